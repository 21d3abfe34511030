// Where the logical restore's time goes, piece by piece, in interleaved rounds on the same
// stored dump. The download step: S3 GET alone, GET + age decryption, the temp file with
// Node's default write buffer and with dr-drill's, dr-drill's whole step (GET, SHA-256 of
// the stored bytes, decryption, SHA-256 of the plain bytes, temp file), the same as a restore
// runs it (the stock age decrypting into the file: decryptInChild), and the stock
// `rclone cat | age -d > FILE`. The whole restore: `dr-drill restore postgres` as a process
// (this tree, and another tree given in BENCH_RESTORE_OLD_TREE, e.g. an extracted older
// commit with node_modules linked, for a before/after in the same rounds) against
// `createdb && pg_restore -jN` from a local file.
// Alone: `node bench/restore-download.ts` (BENCH_PG_SIZE, BENCH_ITERATIONS, BENCH_QUICK,
// BENCH_ONLY as in `pnpm bench`); it starts the native servers, seeds, backs up once and
// stops everything.
import { createWriteStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { buildConfig } from "../src/config/load-config.ts";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import { downloadPart, downloadPartToFile } from "../src/components/download-part.ts";
import { connectPostgres } from "../src/clients/postgres-client.ts";
import { decryptStream } from "../src/crypto/age.ts";
import { discardSink } from "../src/streams/discard.ts";
import { readIdentityFile } from "../src/crypto/age.ts";
import { describeCommand, startCommand, commandError } from "../src/exec/index.ts";
import { type CliBenchContext, type CliBreakdowns, makeCliRestoreTask, makePgRestoreTask } from "./cli-tasks.ts";
import { medianSlices } from "./cli-steps.ts";
import { makeCliEnv, CLI_BIN } from "./cli-process.ts";
import { makeTempDir } from "../src/lifecycle/index.ts";
import type { StoredPart } from "../src/manifest/index.ts";
import { startNativeTarget } from "../src/targets/native/native-target.ts";
import { makeIdentityFile } from "./bench-keys.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { readBenchSettings } from "./bench-settings.ts";
import type { BenchTask } from "./bench-task.ts";
import { findCpuWatch } from "./cpu-usage.ts";
import { logStep } from "./log-step.ts";
import { makeRcloneEnv } from "./rclone-sync.ts";
import { runRounds } from "./run-rounds.ts";
import { seedPostgres } from "../fixtures/index.ts";
import { settleDatabase } from "./settle-machine.ts";

/** `rclone cat drbench:BUCKET/KEY | age -d -i IDENTITY -o FILE`: two processes, rclone's stdout piped into age. */
async function rcloneCatAge(env: Record<string, string | undefined>, bucket: string, key: string, identityFile: string, out: string): Promise<void> {
  const catArgs = ["cat", `drbench:${bucket}/${key}`];
  const ageArgs = ["-d", "-i", identityFile, "-o", out];
  const cat = startCommand("rclone", catArgs, { env, streamStdout: true, timeoutMs: 30 * 60_000 });
  const age = startCommand("age", ageArgs, { timeoutMs: 30 * 60_000 });
  cat.stdout!.pipe(age.stdin!);
  const [catResult, ageResult] = await Promise.all([cat, age]);
  if (catResult.failed) throw commandError(describeCommand("rclone", catArgs), catResult, String(catResult.stderr ?? ""));
  if (ageResult.failed) throw commandError(describeCommand("age", ageArgs), ageResult, String(ageResult.stderr ?? ""));
}

/** `node OLD_TREE/bin/dr-drill.js restore postgres --latest --into URL`, the same repository and server as this tree's CLI task. */
function makeOtherTreeRestoreTask(ctx: CliBenchContext, tree: string, bucket: string): BenchTask {
  const pg = ctx.target.postgres;
  let round = 0;
  let database = "";
  const drop = async () => {
    const client = await connectPostgres(pg, "postgres");
    try {
      await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
  const env = { ...makeCliEnv({ s3: ctx.target.s3, bucket, identityFile: ctx.identityFile, stateDir: join(ctx.scratchDir, "state-other-tree") }), PGPASSWORD: pg.password };
  return {
    id: "cli-restore-other-tree",
    name: `${tree}/bin/dr-drill.js restore postgres --latest --into URL`,
    group: "postgres-restore",
    command: `cd ${tree} && node ${CLI_BIN} restore postgres --latest --into URL`,
    notes: "the same restore by another tree's code (before/after in the same rounds)",
    inputBytes: ctx.databaseBytes,
    facts: [],
    beforeEach: async () => {
      round += 1;
      database = `bench_restore_other_${round}`;
      await drop();
    },
    run: async () => {
      const args = [CLI_BIN, "restore", "postgres", "--latest", "--into", `postgres://${encodeURIComponent(pg.user)}@${pg.host}:${pg.port}/${database}`];
      const result = await startCommand(process.execPath, args, { env, cwd: tree, timeoutMs: 60 * 60_000 });
      if (result.failed) throw commandError(describeCommand(process.execPath, args), result, String(result.stderr ?? ""));
    },
    afterEach: drop,
  };
}

async function main(): Promise<void> {
  const settings = readBenchSettings();
  const scratch = await makeTempDir("bench-download");
  const target = await startNativeTarget();
  try {
    logStep(`seeding ${(settings.pgBytes / 1e6).toFixed(0)} MB; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    await seedPostgres(target.postgres, { targetBytes: settings.pgBytes, seed: settings.seed });
    await settleDatabase(target.postgres);
    const keys = await makeIdentityFile(scratch);
    const identities = await readIdentityFile(keys.file);
    const bucket = "bench-download";
    const storage = await openBenchBucket(target.s3, bucket);
    await emptyBucket(storage);
    const config = buildConfig(undefined, {});
    config.postgres.compressionLevel = settings.compressionLevel;
    const manifest = await backupPostgres({ storage, config, postgres: target.postgres, redis: target.redis, mediaDir: target.mediaDir, recipients: keys.recipients });
    const part: StoredPart = manifest.parts[0]!;
    logStep(`stored ${(part.size / 1e6).toFixed(0)} MB (${(part.plainSize / 1e6).toFixed(0)} MB dump) as ${part.key}`);
    const out = join(scratch, "restore.dump");
    const clean = () => rm(out, { force: true });
    const task = (id: string, name: string, command: string, run: () => Promise<void>): BenchTask => ({
      id, name, group: "postgres-restore", command, notes: "", inputBytes: part.size, facts: [], beforeEach: clean, afterEach: clean, run,
    });
    const rcloneEnv = makeRcloneEnv(target.s3, scratch);
    const tasks = [
      task("get", "S3 GET only (dr-drill's client)", "storage.get(key) -> discard", async () => {
        await pipeline(await storage.get(part.key), discardSink());
      }),
      task("get-decrypt", "S3 GET + age decrypt (dr-drill)", "decryptStream(storage.get(key)) -> discard", async () => {
        await pipeline(await decryptStream(await storage.get(part.key), identities, manifest.id), discardSink());
      }),
      task("get-decrypt-file", "S3 GET + age decrypt -> file, no hashing (dr-drill)", "decryptStream(storage.get(key)) -> FILE", async () => {
        await pipeline(await decryptStream(await storage.get(part.key), identities, manifest.id), createWriteStream(out));
      }),
      task("download-step-default-buffer", "dr-drill's download step, Node's default 64 KiB file write buffer", "GET | sha256 | age -d | sha256 -> FILE (createWriteStream defaults)", async () => {
        const handle = await open(out, "wx", 0o600);
        await downloadPart({ storage, part, backupId: manifest.id, identities, encrypted: true }, handle.createWriteStream());
      }),
      task("download-step", "dr-drill's download step (downloadPartToFile, 4 MiB write buffer)", "GET | sha256 | age -d | sha256 -> FILE", async () => {
        await downloadPartToFile({ storage, part, backupId: manifest.id, identities, encrypted: true }, out);
      }),
      task("download-step-age", "dr-drill's download step as a restore runs it (curl into the stock age -d, which writes the file)", "curl (signed GET) | age -d -> FILE", async () => {
        await downloadPartToFile({ storage, part, backupId: manifest.id, identities, encrypted: true, decryptInChild: true }, out);
      }),
      task("rclone-age", "rclone cat | age -d > FILE", "rclone cat drbench:BUCKET/KEY | age -d -i KEY -o FILE", () => rcloneCatAge(rcloneEnv, bucket, part.key, keys.file, out)),
    ];
    const databaseBytes = Number((await (async () => {
      const client = await connectPostgres(target.postgres);
      try {
        return (await client.query<{ bytes: string }>("SELECT pg_database_size(current_database()) AS bytes")).rows[0]?.bytes;
      } finally {
        await client.end();
      }
    })()) ?? 0);
    const cli: CliBenchContext = { target, databaseBytes, compressionLevel: settings.compressionLevel, recipients: keys.recipients, scratchDir: scratch, storageOptions: settings.storage, identityFile: keys.file };
    const breakdowns: CliBreakdowns = new Map();
    const cliRestore = makeCliRestoreTask(cli, breakdowns);
    const otherTree = process.env.BENCH_RESTORE_OLD_TREE;
    tasks.push(makePgRestoreTask(cli), cliRestore, ...(otherTree ? [makeOtherTreeRestoreTask(cli, otherTree, "bench-pg-cli-restore")] : []));
    const selected = tasks.filter((t) => settings.only.length === 0 || settings.only.some((prefix) => t.id.startsWith(prefix)));
    const summaries = await runRounds(selected, settings.iterations, findCpuWatch(target.pids()));
    console.log(`\nstored object ${(part.size / 1e6).toFixed(1)} MB, dump ${(part.plainSize / 1e6).toFixed(1)} MB, ${settings.iterations} rounds (medians):`);
    console.table(summaries.map((s) => ({
      task: s.name,
      median: `${(s.medianMs / 1000).toFixed(2)} s`,
      "min..max": `${(s.minMs / 1000).toFixed(2)}..${(s.maxMs / 1000).toFixed(2)} s`,
      "stored MB/s": s.throughputMBps.toFixed(1),
      "CPU s node/tools/s3": [s.medianCpu.bench, s.medianCpu.tools, s.medianCpu.s3].map((x) => x.toFixed(1)).join("/"),
    })));
    const steps = breakdowns.get("cli-restore") ?? [];
    if (steps.length) {
      console.log("\ndr-drill restore cut at its step lines (medians):");
      for (const slice of medianSlices(steps)) console.log(`  ${slice.name}: ${(slice.ms / 1000).toFixed(2)} s`);
    }
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    await emptyBucket(storage);
    storage[Symbol.dispose]();
  } finally {
    await target.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
