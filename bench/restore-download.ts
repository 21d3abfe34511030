// Where the logical restore's "Download and decrypt dump" step goes, piece by piece, beside
// the stock `rclone cat | age -d > FILE`, in interleaved rounds on the same stored dump:
// S3 GET alone, GET + age decryption, dr-drill's whole step (GET, SHA-256 of the stored
// bytes, decryption, SHA-256 of the plain bytes, temp file), and rclone piped into age.
// Alone: `node bench/restore-download.ts` (BENCH_PG_SIZE, BENCH_ITERATIONS, BENCH_QUICK as
// in `pnpm bench`); it starts the native servers, seeds, backs up once and stops everything.
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { buildConfig } from "../src/config/load-config.ts";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import { downloadPartToFile } from "../src/components/download-part.ts";
import { decryptStream } from "../src/crypto/age.ts";
import { readIdentityFile } from "../src/crypto/age.ts";
import { describeCommand, startCommand, commandError } from "../src/exec/index.ts";
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

/** A sink that drops everything (the GET-only and decrypt-only cases). */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

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

async function main(): Promise<void> {
  const settings = readBenchSettings();
  const scratch = await makeTempDir("bench-download");
  const target = await startNativeTarget();
  try {
    logStep(`seeding ${(settings.pgBytes / 1e6).toFixed(0)} MB`);
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
        await pipeline(await storage.get(part.key), discard());
      }),
      task("get-decrypt", "S3 GET + age decrypt (dr-drill)", "decryptStream(storage.get(key)) -> discard", async () => {
        await pipeline(await decryptStream(await storage.get(part.key), identities, manifest.id), discard());
      }),
      task("get-decrypt-file", "S3 GET + age decrypt -> file, no hashing (dr-drill)", "decryptStream(storage.get(key)) -> FILE", async () => {
        await pipeline(await decryptStream(await storage.get(part.key), identities, manifest.id), createWriteStream(out));
      }),
      task("download-step", "dr-drill's download step (downloadPartToFile)", "GET | sha256 | age -d | sha256 -> FILE", async () => {
        await downloadPartToFile({ storage, part, backupId: manifest.id, identities, encrypted: true }, out);
      }),
      task("rclone-age", "rclone cat | age -d > FILE", "rclone cat drbench:BUCKET/KEY | age -d -i KEY -o FILE", () => rcloneCatAge(rcloneEnv, bucket, part.key, keys.file, out)),
    ];
    const summaries = await runRounds(tasks, settings.iterations, findCpuWatch(target.pids()));
    console.log(`\nstored object ${(part.size / 1e6).toFixed(1)} MB, dump ${(part.plainSize / 1e6).toFixed(1)} MB, ${settings.iterations} rounds (medians):`);
    console.table(summaries.map((s) => ({
      task: s.name,
      median: `${(s.medianMs / 1000).toFixed(2)} s`,
      "min..max": `${(s.minMs / 1000).toFixed(2)}..${(s.maxMs / 1000).toFixed(2)} s`,
      "stored MB/s": s.throughputMBps.toFixed(1),
      "CPU s node/tools/s3": [s.medianCpu.bench, s.medianCpu.tools, s.medianCpu.s3].map((x) => x.toFixed(1)).join("/"),
    })));
    await emptyBucket(storage);
    storage[Symbol.dispose]();
  } finally {
    await target.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
