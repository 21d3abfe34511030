// Where the dump's compression runs: pg_dump's own gzip (-Z1, inside pg_dump's process) against
// pg_dump -Z0 piped into zstd in this process (node:zlib on the libuv threadpool, another core),
// each through the same SHA-256 + age + multipart upload of backupPostgres(), with the reference's
// dump-then-upload beside them, the stored size, and the restore each backup then needs
// (download + decrypt [+ zstd -d] to a temp file while pg_restore loads the data from the same
// stream, then pg_restore --section=post-data --jobs N from the file).
//   node bench/dump-compression.ts          # 1 GB fixture (BENCH_PG_SIZE), 3 rounds (BENCH_ITERATIONS)
//   BENCH_ONLY=dumpz-backup node bench/dump-compression.ts   # backups only (ids: dumpz-backup-*, dumpz-restore-*, sequential-plain)
//   BENCH_ZSTD_LEVELS=1,3 (default)
import { createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { loadavg } from "node:os";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { join } from "node:path";
import { connectPostgres, postgresEnv } from "../src/clients/index.ts";
import type { BackupContext } from "../src/components/backup-context.ts";
import { downloadPart, partOf } from "../src/components/download-part.ts";
import { type DumpCompression, describeDumpCompression, dumpSink } from "../src/components/postgres/dump-compression.ts";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import { buildConfig } from "../src/config/load-config.ts";
import { readIdentityFile } from "../src/crypto/age.ts";
import { describeCommand, runCommand, startCommand } from "../src/exec/index.ts";
import { makeTempDir } from "../src/lifecycle/index.ts";
import type { BackupManifest } from "../src/manifest/index.ts";
import type { S3Storage } from "../src/storage/index.ts";
import { startNativeTarget } from "../src/targets/native/native-target.ts";
import type { NativeTarget } from "../src/targets/native/native-target.ts";
import { seedPostgres } from "../fixtures/index.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { makeIdentityFile } from "./bench-keys.ts";
import { readBenchSettings, type BenchSettings } from "./bench-settings.ts";
import type { BenchTask } from "./bench-task.ts";
import { findCpuWatch } from "./cpu-usage.ts";
import { logStep } from "./log-step.ts";
import { makeDumpThenUploadTask, type PostgresBenchContext } from "./postgres-tasks.ts";
import { runRounds } from "./run-rounds.ts";
import { settleDatabase } from "./settle-machine.ts";
import { median, type TaskSummary } from "./summarize-task.ts";

const RESTORE_TIMEOUT_MS = 60 * 60_000;
const RESTORE_JOBS = 2;

/** What the tasks of one variant share: its bucket, its newest backup (the restore reads it), the key. */
interface Variant {
  id: string;
  compression: DumpCompression;
  storage?: S3Storage;
  newest?: BackupManifest;
}

/** The zstd levels to compare (BENCH_ZSTD_LEVELS, default 1,3). */
function readZstdLevels(env: NodeJS.ProcessEnv): number[] {
  const levels = (env.BENCH_ZSTD_LEVELS ?? "1,3").split(",").map((l) => Number(l.trim()));
  for (const level of levels) if (!Number.isInteger(level) || level < 1 || level > 19) throw new Error(`unable to read setting 'BENCH_ZSTD_LEVELS': '${level}' is not a zstd level 1..19`);
  return levels;
}

/** Drop a database the bench restored into. */
async function dropDatabase(target: NativeTarget, name: string): Promise<void> {
  const client = await connectPostgres(target.postgres, "postgres");
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** backupPostgres() with this variant's compression into the variant's own bucket; the manifest is kept for the restore task. */
function makeBackupTask(target: NativeTarget, variant: Variant, recipients: string[], databaseBytes: number): BenchTask {
  const config = buildConfig(undefined, {});
  const facts: Record<string, number>[] = [];
  const bucket = `bench-dumpz-${variant.id}`;
  return {
    id: `dumpz-backup-${variant.id}`,
    name: `backupPostgres, ${describeDumpCompression(variant.compression)} (age)`,
    group: "postgres",
    command: `backupPostgres(ctx, { compression: ${JSON.stringify(variant.compression)} }) -> s3://${bucket}/`,
    notes: "streaming: pg_dump | [zstd in-process] | sha256 | age | sha256 | S3 multipart; snapshot, row counts and manifest included",
    inputBytes: databaseBytes,
    facts,
    setup: async () => {
      variant.storage = await openBenchBucket(target.s3, bucket);
      await emptyBucket(variant.storage);
    },
    beforeEach: async () => {
      if (variant.storage) await emptyBucket(variant.storage);
    },
    run: async () => {
      const ctx: BackupContext = { storage: variant.storage!, config, postgres: target.postgres, redis: target.redis, mediaDir: target.mediaDir, recipients };
      variant.newest = await backupPostgres(ctx, { compression: variant.compression });
    },
    afterEach: async () => {
      facts.push({ storedBytes: variant.newest?.storedBytes ?? 0, plainBytes: variant.newest?.parts[0]?.plainSize ?? 0 });
    },
    teardown: async () => {
      if (variant.storage) await emptyBucket(variant.storage);
      variant.storage?.[Symbol.dispose]();
    },
  };
}

/** A writer that copies every chunk to both streams, at the pace of the slower one, and finishes when both have. */
function teeInto(a: Writable, b: Writable): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      let waiting = 2;
      const done = () => {
        waiting -= 1;
        if (waiting === 0) callback();
      };
      for (const side of [a, b]) if (side.write(chunk)) done();
      else side.once("drain", done);
    },
    final(callback) {
      a.end();
      b.end();
      Promise.all([finished(a), finished(b)]).then(() => callback(), callback);
    },
  });
}

/**
 * The restore of the variant's newest backup, the way dr-drill's logical restore runs it:
 * createdb, then the download (GET, SHA-256, age, SHA-256 [, zstd -d]) written to a temp
 * file while the same bytes feed `pg_restore --section=pre-data --section=data` on its
 * stdin, then `pg_restore --section=post-data --jobs N` from the file.
 */
function makeRestoreTask(target: NativeTarget, variant: Variant, identityFile: string, scratchDir: string, databaseBytes: number): BenchTask {
  const file = join(scratchDir, `dumpz-${variant.id}.dump`);
  const facts: Record<string, number>[] = [];
  let round = 0;
  let database = "";
  let identities: string[] = [];
  const common = (name: string) => [`--dbname=${name}`, "--no-owner", "--no-acl", "--exit-on-error", "--no-password"];
  const load = (name: string) => [...common(name), "--section=pre-data", "--section=data"];
  const post = (name: string) => [...common(name), "--section=post-data", `--jobs=${RESTORE_JOBS}`, file];
  let loadMs = 0;
  let postMs = 0;
  return {
    id: `dumpz-restore-${variant.id}`,
    name: `restore of ${describeDumpCompression(variant.compression)}: download + decrypt${variant.compression.method === "zstd" ? " + zstd -d" : ""} to FILE and pg_restore data from the stream, post-data -j${RESTORE_JOBS}`,
    group: "postgres-restore",
    command: `${describeCommand("createdb", ["-T", "template0", "NEWDB"])} && downloadPart(backup, dumpSink(manifest, tee(FILE, stdin of ${describeCommand("pg_restore", load("NEWDB"))}))) && ${describeCommand("pg_restore", post("NEWDB"))}`,
    notes: "the newest backup of the same round; no CLI start-up, no smoke checks",
    inputBytes: databaseBytes,
    facts,
    setup: async () => {
      identities = await readIdentityFile(identityFile);
    },
    beforeEach: async () => {
      round += 1;
      database = `bench_dumpz_${variant.id.replace(/\W/g, "_")}_${round}`;
      await dropDatabase(target, database);
      await rm(file, { force: true });
    },
    run: async () => {
      const manifest = variant.newest;
      if (!manifest || !variant.storage) throw new Error(`unable to restore variant '${variant.id}': its backup task did not run before`);
      await runCommand("createdb", ["-T", "template0", database], { env: postgresEnv(target.postgres, "postgres"), timeoutMs: 60_000 });
      const started = performance.now();
      const loader = startCommand("pg_restore", load(database), { env: postgresEnv(target.postgres, database), timeoutMs: RESTORE_TIMEOUT_MS });
      const [, loaded] = await Promise.all([downloadPart(partOf({ storage: variant.storage, manifest, identities }), dumpSink(manifest, teeInto(createWriteStream(file), loader.stdin!))), loader]);
      if (loaded.failed) throw new Error(`unable to load the data of variant '${variant.id}': ${String(loaded.stderr ?? "").slice(-500)}`);
      loadMs = performance.now() - started;
      const posted = performance.now();
      await runCommand("pg_restore", post(database), { env: postgresEnv(target.postgres, database), timeoutMs: RESTORE_TIMEOUT_MS });
      postMs = performance.now() - posted;
    },
    afterEach: async () => {
      facts.push({ loadMs, postMs, dumpFileBytes: (await stat(file).catch(() => ({ size: 0 }))).size });
      await dropDatabase(target, database);
      await rm(file, { force: true });
    },
  };
}

/** The median of one fact over a task's iterations. */
function medianFact(summary: TaskSummary | undefined, name: string): number {
  const values = (summary?.facts ?? []).map((f) => f[name]).filter((v): v is number => v !== undefined);
  return values.length ? median(values) : Number.NaN;
}

/** Seconds with two decimals, "-" when not measured. */
function seconds(ms: number | undefined): string {
  return ms === undefined || Number.isNaN(ms) ? "-" : `${(ms / 1000).toFixed(2)} s`;
}

/** One line per variant: backup, stored size, restore (its download part), CPU; then the ratios against -Z1 and dump-then-upload. */
function printSummary(variants: Variant[], summaries: TaskSummary[]): void {
  const byId = new Map(summaries.map((s) => [s.id, s]));
  const sequential = byId.get("sequential-plain");
  const rows = variants.map((v) => {
    const backup = byId.get(`dumpz-backup-${v.id}`);
    const restore = byId.get(`dumpz-restore-${v.id}`);
    const cpu = backup?.medianCpu;
    return {
      compression: describeDumpCompression(v.compression),
      backup: seconds(backup?.medianMs),
      "backup samples": backup?.samplesMs.map((ms) => (ms / 1000).toFixed(2)).join(" ") ?? "-",
      "CPU s node/pg_dump/s3/pg": cpu ? [cpu.bench, cpu.tools, cpu.s3, cpu.postgres].map((c) => c.toFixed(1)).join("/") : "-",
      "stored MB": (medianFact(backup, "storedBytes") / 1e6).toFixed(1),
      restore: seconds(restore?.medianMs),
      "restore samples": restore?.samplesMs.map((ms) => (ms / 1000).toFixed(2)).join(" ") ?? "-",
      "of it download + data load": seconds(medianFact(restore, "loadMs")),
      "of it post-data": seconds(medianFact(restore, "postMs")),
      "dump-then-upload / backup": sequential && backup ? `${(sequential.medianMs / backup.medianMs).toFixed(2)}x` : "-",
    };
  });
  console.table(rows);
  if (sequential) console.log(`dump-then-upload (pg_dump -Fc -Z1 -f FILE, then upload, no encryption): ${seconds(sequential.medianMs)} (samples ${sequential.samplesMs.map((ms) => (ms / 1000).toFixed(2)).join(" ")})`);
}

/** Seed, time the variants in interleaved rounds, print the table, stop everything. */
async function main(): Promise<void> {
  const settings: BenchSettings = readBenchSettings();
  const levels = readZstdLevels(process.env);
  logStep(`dump compression bench: ${(settings.pgBytes / 1e6).toFixed(0)} MB, ${settings.iterations} rounds, zstd levels ${levels.join(",")}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const scratchDir = await makeTempDir("bench-dumpz");
  const target = await startNativeTarget();
  try {
    const seeded = await seedPostgres(target.postgres, { targetBytes: settings.pgBytes, seed: settings.seed });
    await settleDatabase(target.postgres);
    logStep(`seeded ${(seeded.databaseBytes / 1e6).toFixed(0)} MB in ${(seeded.durationMs / 1000).toFixed(1)} s`);
    const keys = await makeIdentityFile(scratchDir);
    const variants: Variant[] = [
      { id: "gzip1", compression: { method: "pg_dump", level: 1 } },
      ...levels.map((level): Variant => ({ id: `zstd${level}`, compression: { method: "zstd", level } })),
    ];
    const pg: PostgresBenchContext = { target, databaseBytes: seeded.databaseBytes, compressionLevel: 1, recipients: keys.recipients, scratchDir, storageOptions: settings.storage };
    // A restore reads its variant's backup of the same round: selecting a restore selects that backup too.
    const selected = (id: string) => settings.only.length === 0 || settings.only.some((prefix) => id.startsWith(prefix));
    const tasks = [
      ...(selected("sequential-plain") ? [makeDumpThenUploadTask(pg, false)] : []),
      ...variants.filter((v) => selected(`dumpz-backup-${v.id}`) || selected(`dumpz-restore-${v.id}`)).map((v) => makeBackupTask(target, v, keys.recipients, seeded.databaseBytes)),
      ...variants.filter((v) => selected(`dumpz-restore-${v.id}`)).map((v) => makeRestoreTask(target, v, keys.file, scratchDir, seeded.databaseBytes)),
    ];
    const summaries = await runRounds(tasks, settings.iterations, findCpuWatch(target.pids()));
    console.log("");
    printSummary(variants, summaries);
    logStep(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    await target.stop();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

await main();
