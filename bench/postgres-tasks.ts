import { createReadStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { postgresEnv } from "../src/clients/postgres-client.ts";
import type { BackupContext } from "../src/components/backup-context.ts";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import { uploadPart } from "../src/components/upload-part.ts";
import { buildConfig } from "../src/config/load-config.ts";
import { describeCommand, runCommand } from "../src/exec/index.ts";
import type { S3Storage, S3StorageOptions } from "../src/storage/index.ts";
import type { StartedTarget } from "../src/targets/target.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import type { BenchTask } from "./bench-task.ts";

const DUMP_TIMEOUT_MS = 60 * 60_000;

/** What every PostgreSQL task shares. */
export interface PostgresBenchContext {
  target: StartedTarget;
  /** pg_database_size of the source database, bytes. */
  databaseBytes: number;
  /** pg_dump --compress level, the same for every task. */
  compressionLevel: number;
  /** age recipients for the encrypted variants. */
  recipients: string[];
  /** Folder for the dump files of the file-based tasks. */
  scratchDir: string;
  /** S3Storage tuning (part size, queue size); empty means dr-drill's defaults. */
  storageOptions: S3StorageOptions;
}

/** `pg_dump -Fc -Z<level> -f FILE` as argv; the database and credentials come from PG* env. */
function makePgDumpArgs(level: number, file: string): string[] {
  return ["-Fc", `-Z${level}`, "-f", file];
}

/** Run plain pg_dump into a file, the way the reference script does. */
async function dumpToFile(ctx: PostgresBenchContext, file: string): Promise<void> {
  await runCommand("pg_dump", makePgDumpArgs(ctx.compressionLevel, file), {
    env: postgresEnv(ctx.target.postgres),
    timeoutMs: DUMP_TIMEOUT_MS,
  });
}

/** Bytes of a file, 0 when it is missing. */
async function readFileSize(file: string): Promise<number> {
  return (await stat(file).catch(() => ({ size: 0 }))).size;
}

/** The storage a task opened in setup, or a clear error when setup did not run. */
function requireStorage(storage: S3Storage | undefined, task: string): S3Storage {
  if (!storage) throw new Error(`unable to run task '${task}': its bucket was not opened`);
  return storage;
}

/** The baseline: plain pg_dump to a local file, nothing uploaded. */
export function makePgDumpFileTask(ctx: PostgresBenchContext): BenchTask {
  const file = join(ctx.scratchDir, "pg_dump-baseline.dump");
  const facts: Record<string, number>[] = [];
  return {
    id: "pg-dump-file",
    name: `pg_dump -Fc -Z${ctx.compressionLevel} -f FILE`,
    group: "postgres",
    command: describeCommand("pg_dump", makePgDumpArgs(ctx.compressionLevel, file)),
    notes: "baseline: local file only, no hashing, no encryption, no upload",
    inputBytes: ctx.databaseBytes,
    facts,
    beforeEach: () => rm(file, { force: true }),
    run: async () => {
      await dumpToFile(ctx, file);
    },
    afterEach: async () => {
      facts.push({ dumpBytes: await readFileSize(file) });
      await rm(file, { force: true });
    },
  };
}

/** A task's own bucket: opened and emptied once before the first round, closed after the last. */
function ownBucket(ctx: PostgresBenchContext, bucket: string, name: string): { storage: () => S3Storage; setup: () => Promise<void>; teardown: () => Promise<void> } {
  let storage: S3Storage | undefined;
  return {
    storage: () => requireStorage(storage, name),
    setup: async () => {
      storage = await openBenchBucket(ctx.target.s3, bucket, ctx.storageOptions);
      await emptyBucket(storage);
    },
    teardown: async () => {
      storage?.[Symbol.dispose]();
    },
  };
}

/**
 * dr-drill's pipeline: backupPostgres() streams pg_dump's stdout through SHA-256 and age
 * into a multipart upload, with no temp file, then writes the manifest.
 */
export function makePipelineTask(ctx: PostgresBenchContext, encrypted: boolean): BenchTask {
  const recipients = encrypted ? ctx.recipients : [];
  const bucket = encrypted ? "bench-pg-pipeline-age" : "bench-pg-pipeline-plain";
  const name = `dr-drill backupPostgres (${encrypted ? "age" : "no encryption"})`;
  const config = buildConfig(undefined, {});
  config.postgres.compressionLevel = ctx.compressionLevel;
  const facts: Record<string, number>[] = [];
  const own = ownBucket(ctx, bucket, name);
  return {
    id: encrypted ? "pipeline-age" : "pipeline-plain",
    name,
    group: "postgres",
    command: `backupPostgres(ctx): pg_dump --format=custom --compress=${ctx.compressionLevel} --snapshot=... | sha256 | ${encrypted ? "age | sha256 | " : ""}S3 multipart (s3://${bucket}/)`,
    notes: encrypted
      ? "streaming, age-encrypted to 1 recipient, manifest with row counts written; includes snapshot export and row counting"
      : "as the age variant but stored in plaintext (shows the cost of encryption)",
    inputBytes: ctx.databaseBytes,
    facts,
    setup: own.setup,
    run: async () => {
      const backup: BackupContext = {
        storage: own.storage(),
        config,
        postgres: ctx.target.postgres,
        redis: ctx.target.redis,
        mediaDir: ctx.target.mediaDir,
        recipients,
      };
      const manifest = await backupPostgres(backup);
      const part = manifest.parts[0];
      facts.push({ storedBytes: manifest.storedBytes, dumpBytes: part?.plainSize ?? 0 });
    },
    afterEach: () => emptyBucket(own.storage()),
    teardown: own.teardown,
  };
}

/**
 * The reference document's sequential approach: `pg_dump -Fc -f FILE`, then upload the file
 * with the same S3 client (S3Storage.put of a file stream, i.e. `aws s3 cp`). The encrypted
 * variant uploads through the same SHA-256 + age path as dr-drill, so only the temp file
 * and the sequencing differ.
 */
export function makeDumpThenUploadTask(ctx: PostgresBenchContext, encrypted: boolean): BenchTask {
  const file = join(ctx.scratchDir, `sequential-${encrypted ? "age" : "plain"}.dump`);
  const bucket = encrypted ? "bench-pg-sequential-age" : "bench-pg-sequential-plain";
  const key = `postgres/${ctx.target.postgres.database}.dump${encrypted ? ".age" : ""}`;
  const name = `sequential: pg_dump -f FILE, then upload (${encrypted ? "age" : "no encryption"})`;
  const facts: Record<string, number>[] = [];
  const own = ownBucket(ctx, bucket, name);
  let storedBytes = 0;
  return {
    id: encrypted ? "sequential-age" : "sequential-plain",
    name,
    group: "postgres",
    command: `${describeCommand("pg_dump", makePgDumpArgs(ctx.compressionLevel, file))} && ${
      encrypted ? "uploadPart(createReadStream(FILE)) (sha256 | age | sha256 | S3Storage.put)" : "S3Storage.put(key, createReadStream(FILE))"
    } -> s3://${bucket}/${key}`,
    notes: encrypted
      ? "reference approach with dr-drill's encryption on the upload: temp file of the whole dump"
      : "reference approach as written (aws s3 cp): no encryption, no hashing; temp file of the whole dump",
    inputBytes: ctx.databaseBytes,
    facts,
    setup: own.setup,
    beforeEach: () => rm(file, { force: true }),
    run: async () => {
      const target = own.storage();
      await dumpToFile(ctx, file);
      storedBytes = encrypted
        ? (await uploadPart({ storage: target, key, source: createReadStream(file), recipients: ctx.recipients })).size
        : (await target.put(key, createReadStream(file))).size;
    },
    afterEach: async () => {
      facts.push({ storedBytes, dumpBytes: await readFileSize(file) });
      await rm(file, { force: true });
      await emptyBucket(own.storage());
    },
    teardown: own.teardown,
  };
}
