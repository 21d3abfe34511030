import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BackupContext } from "../src/components/backup-context.ts";
import { backupMedia } from "../src/components/media/media-backup.ts";
import { buildConfig } from "../src/config/load-config.ts";
import type { S3Storage, S3StorageOptions } from "../src/storage/index.ts";
import type { StartedTarget } from "../src/targets/target.ts";
import { countObjects, emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import type { BenchTask } from "./bench-task.ts";
import { describeRcloneSync, makeRcloneEnv, runRcloneSync } from "./rclone-sync.ts";

/** What every media task shares. */
export interface MediaBenchContext {
  target: StartedTarget;
  /** Files a sync must upload (the fixture's clutter is excluded by both tools). */
  files: number;
  /** Bytes of those files. */
  bytes: number;
  recipients: string[];
  /** Parent of the fresh DR_CACHE_DIR folders and rclone's (absent) config file. */
  scratchDir: string;
  storageOptions: S3StorageOptions;
}

/** One dr-drill media task's variable parts. */
interface DrDrillMediaVariant {
  encrypted: boolean;
  /** true: every iteration starts from an empty bucket and a cold cache; false: from a completed sync. */
  firstSync: boolean;
}

/** Point dr-drill's media cache at a new, empty folder (read through process.env by backupMedia). */
async function useFreshCacheDir(scratchDir: string): Promise<string> {
  const dir = await mkdtemp(join(scratchDir, "dr-cache-"));
  process.env.DR_CACHE_DIR = dir;
  return dir;
}

/** Fail the run when an iteration did not do the work it was meant to time. */
function assertUploaded(task: string, uploaded: number, expected: number): void {
  if (uploaded !== expected) throw new Error(`unable to trust task '${task}': it uploaded ${uploaded} file(s), expected ${expected}`);
}

/** The storage a task opened in beforeAll. */
function requireStorage(storage: S3Storage | undefined, task: string): S3Storage {
  if (!storage) throw new Error(`unable to run task '${task}': its bucket was not opened`);
  return storage;
}

/**
 * dr-drill backupMedia(): content-addressed objects (one PutObject each, 8 at once), a
 * snapshot file list, a refs list and a manifest. First sync: empty bucket, cold cache.
 * No change: a completed sync before the first iteration, warm cache.
 */
export function makeDrDrillMediaTask(ctx: MediaBenchContext, variant: DrDrillMediaVariant): BenchTask {
  const { encrypted, firstSync } = variant;
  const bucket = `bench-media-drdrill-${encrypted ? "age" : "plain"}`;
  const name = `dr-drill backupMedia ${firstSync ? "first sync" : "no-change re-sync"} (${encrypted ? "age" : "no encryption"})`;
  const config = buildConfig(undefined, {});
  const facts: Record<string, number>[] = [];
  let storage: S3Storage | undefined;
  let cacheDir: string | undefined;
  let finished = false;
  const sync = async (): Promise<number> => {
    const backup: BackupContext = {
      storage: requireStorage(storage, name),
      config,
      postgres: ctx.target.postgres,
      redis: ctx.target.redis,
      mediaDir: ctx.target.mediaDir,
      recipients: encrypted ? ctx.recipients : [],
    };
    const manifest = await backupMedia(backup);
    return manifest.media?.uploadedFiles ?? -1;
  };
  const dropCache = async (): Promise<void> => {
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
    cacheDir = undefined;
    delete process.env.DR_CACHE_DIR;
  };
  return {
    id: `drdrill-${firstSync ? "first" : "nochange"}-${encrypted ? "age" : "plain"}`,
    name,
    group: firstSync ? "media-first-sync" : "media-no-change",
    command: `backupMedia(ctx) of ${ctx.target.mediaDir} -> s3://${bucket}/ (DR_CACHE_DIR=${firstSync ? "fresh empty folder per iteration" : "kept from the completed sync"})`,
    notes: `${encrypted ? "age-encrypted objects" : "plaintext objects"}; excludes ${config.media.excludes.join(" ")}; ${
      firstSync ? "bucket emptied and cache dropped before each iteration (untimed)" : "one untimed full sync before the first iteration"
    }`,
    inputBytes: ctx.bytes,
    facts,
    beforeAll: async () => {
      storage = await openBenchBucket(ctx.target.s3, bucket, ctx.storageOptions);
      await emptyBucket(storage);
      if (firstSync) return;
      cacheDir = await useFreshCacheDir(ctx.scratchDir);
      assertUploaded(`${name} (initial sync)`, await sync(), ctx.files);
    },
    beforeEach: async () => {
      if (!firstSync) return;
      await emptyBucket(requireStorage(storage, name));
      await dropCache();
      cacheDir = await useFreshCacheDir(ctx.scratchDir);
    },
    run: async () => {
      const uploaded = await sync();
      facts.push({ uploadedFiles: uploaded });
      finished = true;
    },
    afterEach: async () => {
      // A failed iteration is reported by the bench itself; checking it here would hide why.
      if (!finished) return;
      finished = false;
      const last = facts.at(-1);
      assertUploaded(name, last?.uploadedFiles ?? -1, firstSync ? ctx.files : 0);
      if (last) last.objectsInBucket = await countObjects(requireStorage(storage, name));
    },
    afterAll: async () => {
      await dropCache();
      if (storage) await emptyBucket(storage);
      storage?.[Symbol.dispose]();
    },
  };
}

/**
 * `rclone sync` of the same tree to the same S3 endpoint, configured only through env, with
 * the reference excludes and rclone's default flags (size + modtime compare, 4 transfers,
 * 8 checkers). First sync: empty bucket. No change: a completed sync before the first iteration.
 */
export function makeRcloneTask(ctx: MediaBenchContext, firstSync: boolean): BenchTask {
  const bucket = "bench-media-rclone";
  const prefix = "media/";
  const name = `rclone sync ${firstSync ? "first sync" : "no-change re-sync"} (no encryption)`;
  const env = makeRcloneEnv(ctx.target.s3, ctx.scratchDir);
  const facts: Record<string, number>[] = [];
  let storage: S3Storage | undefined;
  let finished = false;
  const sync = () => runRcloneSync(ctx.target.mediaDir, bucket, prefix, env);
  return {
    id: `rclone-${firstSync ? "first" : "nochange"}`,
    name,
    group: firstSync ? "media-first-sync" : "media-no-change",
    command: `${describeRcloneSync(ctx.target.mediaDir, bucket, prefix)} (remote and credentials from RCLONE_CONFIG_DRBENCH_* env, RCLONE_S3_UPLOAD_CUTOFF=64M)`,
    notes: `no encryption, no snapshot: plain copy of the tree; ${
      firstSync ? "bucket emptied before each iteration (untimed)" : "one untimed full sync before the first iteration"
    }`,
    inputBytes: ctx.bytes,
    facts,
    beforeAll: async () => {
      storage = await openBenchBucket(ctx.target.s3, bucket, ctx.storageOptions);
      await emptyBucket(storage);
      if (!firstSync) assertUploaded(`${name} (initial sync)`, (await sync()).transfers, ctx.files);
    },
    beforeEach: async () => {
      if (firstSync) await emptyBucket(requireStorage(storage, name));
    },
    run: async () => {
      const stats = await sync();
      facts.push({ uploadedFiles: stats.transfers, checkedFiles: stats.checks });
      finished = true;
    },
    afterEach: async () => {
      if (!finished) return;
      finished = false;
      const last = facts.at(-1);
      assertUploaded(name, last?.uploadedFiles ?? -1, firstSync ? ctx.files : 0);
      if (last) last.objectsInBucket = await countObjects(requireStorage(storage, name));
    },
    afterAll: async () => {
      if (storage) await emptyBucket(storage);
      storage?.[Symbol.dispose]();
    },
  };
}
