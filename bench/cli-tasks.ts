import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { connectPostgres, postgresEnv } from "../src/clients/postgres-client.ts";
import type { BackupContext } from "../src/components/backup-context.ts";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import { pgRestoreEnv } from "../src/components/postgres/postgres-restore.ts";
import { buildConfig } from "../src/config/load-config.ts";
import { describeCommand, runCommand } from "../src/exec/index.ts";
import type { S3Storage } from "../src/storage/index.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { readRecipients } from "./bench-keys.ts";
import type { BenchTask } from "./bench-task.ts";
import { type CliRepository, type CliRun, describeCli, makeCliEnv, runCli } from "./cli-process.ts";
import { parseCliSteps, sliceBackupRun, sliceCliRun, type TimeSlice } from "./cli-steps.ts";
import type { PostgresBenchContext } from "./postgres-tasks.ts";

const CLI_TIMEOUT_MS = 60 * 60_000;

/** What the CLI tasks share besides the PostgreSQL context: the age identity file and a state folder. */
export interface CliBenchContext extends PostgresBenchContext {
  identityFile: string;
}

/** Every iteration's cut of a CLI process's wall time, in round order (the report takes medians). */
export type CliBreakdowns = Map<string, TimeSlice[][]>;

/** The CLI's repository in a bucket of its own. */
function cliRepository(ctx: CliBenchContext, bucket: string): CliRepository {
  return { s3: ctx.target.s3, bucket, identityFile: ctx.identityFile, stateDir: join(ctx.scratchDir, `state-${bucket}`) };
}

/** Drop a database the bench restored into (FORCE: nothing of the bench may keep it alive). */
async function dropDatabase(ctx: PostgresBenchContext, name: string): Promise<void> {
  const client = await connectPostgres(ctx.target.postgres, "postgres");
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** The size of a restored database, bytes. */
async function readDatabaseBytes(ctx: PostgresBenchContext, name: string): Promise<number> {
  const client = await connectPostgres({ ...ctx.target.postgres, database: name });
  try {
    const { rows } = await client.query<{ bytes: string }>("SELECT pg_database_size(current_database()) AS bytes");
    return Number(rows[0]?.bytes ?? 0);
  } finally {
    await client.end();
  }
}

/** Open (and empty) a task's bucket once, close it at the end. */
function ownBucket(ctx: PostgresBenchContext, bucket: string): { storage: () => S3Storage; setup: () => Promise<void>; teardown: () => Promise<void> } {
  let storage: S3Storage | undefined;
  return {
    storage: () => {
      if (!storage) throw new Error(`unable to use bucket '${bucket}': it was not opened`);
      return storage;
    },
    setup: async () => {
      storage = await openBenchBucket(ctx.target.s3, bucket, ctx.storageOptions);
      await emptyBucket(storage);
    },
    teardown: async () => {
      if (storage) await emptyBucket(storage).catch(() => undefined);
      storage?.[Symbol.dispose]();
    },
  };
}

/**
 * `node bin/dr-drill.js backup postgres` as a user runs it on the external target: a new
 * process, configuration from DR_* variables (password in DR_DATABASE_URL, in the
 * environment), the storage check, the attempt record, pg_dump | SHA-256 | age | S3 with
 * row counts, the manifest. Each iteration's output lines are kept with their arrival times.
 */
export function makeCliBackupTask(ctx: CliBenchContext, breakdowns: CliBreakdowns): BenchTask {
  const bucket = "bench-pg-cli-backup";
  const own = ownBucket(ctx, bucket);
  const args = ["backup", "postgres"];
  const env = makeCliEnv(cliRepository(ctx, bucket), ctx.target.postgres);
  env.DR_PG_COMPRESSION = String(ctx.compressionLevel);
  const facts: Record<string, number>[] = [];
  const runs: TimeSlice[][] = [];
  breakdowns.set("cli-backup", runs);
  let last: CliRun | undefined;
  return {
    id: "cli-backup",
    name: "node bin/dr-drill.js backup postgres (age)",
    group: "postgres",
    command: `DR_TARGET=external DR_DATABASE_URL=… DR_S3_*=… DR_AGE_IDENTITY_FILE=… ${describeCli(args)}`,
    notes: "the whole CLI process as a user runs it: Node start-up, config, storage check, attempt record, pg_dump | sha256 | age | S3 with row counts, manifest",
    inputBytes: ctx.databaseBytes,
    facts,
    setup: own.setup,
    run: async () => {
      last = await runCli(args, env, { timeoutMs: CLI_TIMEOUT_MS, peakRss: true });
    },
    afterEach: async () => {
      if (last) runs.push(sliceBackupRun(last));
      let stored = 0;
      for await (const object of own.storage().list("postgres/")) stored += object.size;
      facts.push({ storedBytes: stored, ...(last?.peakRssBytes !== undefined ? { peakRssBytes: last.peakRssBytes } : {}) });
      await emptyBucket(own.storage());
    },
    teardown: own.teardown,
  };
}

/** In-process backupPostgres() into a bucket: the restore tasks' backup, made once before the rounds. */
async function backupOnce(ctx: CliBenchContext, storage: S3Storage, recipients: string[]): Promise<void> {
  const config = buildConfig(undefined, {});
  config.postgres.compressionLevel = ctx.compressionLevel;
  const backup: BackupContext = { storage, config, postgres: ctx.target.postgres, redis: ctx.target.redis, mediaDir: ctx.target.mediaDir, recipients };
  await backupPostgres(backup);
}

/** pg_restore --jobs of dr-drill's default configuration (the cores of this machine, 2..8). */
export function defaultRestoreJobs(): number {
  return buildConfig(undefined, {}).postgres.restoreJobs;
}

/**
 * `node bin/dr-drill.js restore postgres --latest --into postgres://USER@HOST:PORT/NEWDB`
 * (password in PGPASSWORD): a new process that reads the repository only, picks the newest
 * backup, starts the download (decrypted to a temp file) while it creates the database,
 * runs pg_restore --jobs N once the file is verified, marks the database. Its own step
 * lines give the breakdown.
 */
export function makeCliRestoreTask(ctx: CliBenchContext, breakdowns: CliBreakdowns): BenchTask {
  const bucket = "bench-pg-cli-restore";
  const own = ownBucket(ctx, bucket);
  const facts: Record<string, number>[] = [];
  const runs: TimeSlice[][] = [];
  breakdowns.set("cli-restore", runs);
  let round = 0;
  let database = "";
  let last: CliRun | undefined;
  const pg = ctx.target.postgres;
  const intoUrl = (name: string) => `postgres://${encodeURIComponent(pg.user)}@${pg.host}:${pg.port}/${name}`;
  const env = { ...makeCliEnv(cliRepository(ctx, bucket)), PGPASSWORD: pg.password };
  return {
    id: "cli-restore",
    name: "node bin/dr-drill.js restore postgres --latest --into URL",
    group: "postgres-restore",
    command: `DR_TARGET=external DR_S3_*=… DR_AGE_IDENTITY_FILE=… PGPASSWORD=… ${describeCli(["restore", "postgres", "--latest", "--into", intoUrl("NEWDB")])}`,
    notes: `the whole CLI process: start-up, storage check, newest backup, create database while the download starts, download + decrypt to a temp file, SHA-256 checks, pg_restore --jobs=${defaultRestoreJobs()} (dr-drill's default here), fingerprint mark; restore rate = source pg_database_size / time`,
    inputBytes: ctx.databaseBytes,
    facts,
    setup: async () => {
      await own.setup();
      await backupOnce(ctx, own.storage(), await readRecipients(ctx.identityFile));
    },
    beforeEach: async () => {
      round += 1;
      database = `bench_restore_cli_${round}`;
      await dropDatabase(ctx, database);
    },
    run: async () => {
      last = await runCli(["restore", "postgres", "--latest", "--into", intoUrl(database)], env, { timeoutMs: CLI_TIMEOUT_MS });
    },
    afterEach: async () => {
      if (last) runs.push(sliceCliRun(parseCliSteps(last.lines), last.exitMs));
      facts.push({ restoredBytes: await readDatabaseBytes(ctx, database) });
      await dropDatabase(ctx, database);
    },
    teardown: own.teardown,
  };
}

/**
 * The plain tool: `createdb -T template0 NEWDB && pg_restore --jobs N --no-owner --no-acl
 * --exit-on-error -d NEWDB FILE` from a local `pg_dump -Fc` file made once before the rounds
 * (same compression level, same N as dr-drill's default). `sessionOptions`: the same with
 * the session settings dr-drill gives pg_restore (PGOPTIONS from pgRestoreEnv), so the
 * report shows what they are worth to the plain tool too.
 */
export function makePgRestoreTask(ctx: CliBenchContext, variant: { sessionOptions?: boolean } = {}): BenchTask {
  const tuned = variant.sessionOptions === true;
  const file = join(ctx.scratchDir, "pg_restore-source.dump");
  const jobs = defaultRestoreJobs();
  const pgOptions = tuned ? pgRestoreEnv(ctx.target.postgres, jobs).PGOPTIONS : undefined;
  const facts: Record<string, number>[] = [];
  let round = 0;
  let database = "";
  const args = (name: string) => [`--dbname=${name}`, `--jobs=${jobs}`, "--no-owner", "--no-acl", "--exit-on-error", "--no-password", file];
  return {
    id: tuned ? "pg-restore-file-session-options" : "pg-restore-file",
    name: tuned ? `pg_restore -j${jobs} from a local file, dr-drill's session options` : `pg_restore -j${jobs} from a local file`,
    group: "postgres-restore",
    command: `${describeCommand("createdb", ["-T", "template0", "NEWDB"])} && ${pgOptions ? `PGOPTIONS='${pgOptions}' ` : ""}${describeCommand("pg_restore", args("NEWDB"))}`,
    notes: tuned
      ? `the plain tool with the session options dr-drill's restore gives pg_restore (${pgOptions ?? "none with one job"}), same file, made by the plain task's setup`
      : `baseline: the dump is already on local disk (pg_dump -Fc -Z${ctx.compressionLevel}, made before the rounds), no download, no decryption, no checks`,
    inputBytes: ctx.databaseBytes,
    facts,
    // Made once by whichever of the two tasks sets up first (the other reads the same file), removed by both.
    setup: async () => {
      if (await stat(file).catch(() => undefined)) return;
      await runCommand("pg_dump", ["-Fc", `-Z${ctx.compressionLevel}`, "-f", file], { env: postgresEnv(ctx.target.postgres), timeoutMs: CLI_TIMEOUT_MS });
    },
    teardown: () => rm(file, { force: true }),
    beforeEach: async () => {
      round += 1;
      database = `bench_restore_${tuned ? "tuned" : "plain"}_${round}`;
      await dropDatabase(ctx, database);
    },
    run: async () => {
      const env = postgresEnv(ctx.target.postgres, "postgres");
      await runCommand("createdb", ["-T", "template0", database], { env, timeoutMs: 60_000 });
      await runCommand("pg_restore", args(database), { env: { ...postgresEnv(ctx.target.postgres, database), ...(pgOptions ? { PGOPTIONS: pgOptions } : {}) }, timeoutMs: CLI_TIMEOUT_MS });
    },
    afterEach: async () => {
      facts.push({ restoredBytes: await readDatabaseBytes(ctx, database) });
      await dropDatabase(ctx, database);
    },
  };
}

/** `node bin/dr-drill.js --version`: Node start-up plus loading the CLI's modules (compile cache on), nothing else. */
export function makeCliStartupTask(ctx: CliBenchContext): BenchTask {
  const facts: Record<string, number>[] = [];
  return {
    id: "cli-startup",
    name: "node bin/dr-drill.js --version (start-up only)",
    group: "cli-overhead",
    command: describeCli(["--version"]),
    notes: "a whole process that loads the CLI (compile cache enabled by bin/dr-drill.js) and exits: the start-up share of every CLI command",
    inputBytes: 0,
    facts,
    run: async () => {
      await runCli(["--version"], makeCliEnv(cliRepository(ctx, "unused")), { timeoutMs: 60_000 });
    },
  };
}
