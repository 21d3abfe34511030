import type { BackupContext } from "../src/components/backup-context.ts";
import { backupMedia } from "../src/components/media/media-backup.ts";
import { buildConfig } from "../src/config/load-config.ts";
import type { S3StorageOptions } from "../src/storage/index.ts";
import type { StartedTarget } from "../src/targets/target.ts";
import { countObjects } from "./bench-bucket.ts";
import type { BenchTask } from "./bench-task.ts";
import { closeMediaLane, type MediaLane, openMediaLane, requireLaneStorage, resetMediaLane } from "./media-lane.ts";
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

/** Where rclone puts the tree inside its bucket. */
const RCLONE_PREFIX = "media/";

/** Fail the run when an iteration did not do the work it was meant to time. */
function assertUploaded(task: string, uploaded: number, expected: number): void {
  if (uploaded !== expected) throw new Error(`unable to trust task '${task}': it uploaded ${uploaded} file(s), expected ${expected}`);
}

/** One dr-drill sync of the media folder into the lane's bucket; returns the files uploaded. */
async function syncWithDrDrill(ctx: MediaBenchContext, lane: MediaLane, encrypted: boolean): Promise<number> {
  const backup: BackupContext = {
    storage: requireLaneStorage(lane),
    config: buildConfig(undefined, {}),
    postgres: ctx.target.postgres,
    redis: ctx.target.redis,
    mediaDir: ctx.target.mediaDir,
    recipients: encrypted ? ctx.recipients : [],
  };
  const manifest = await backupMedia(backup);
  return manifest.media?.uploadedFiles ?? -1;
}

/**
 * Untimed, before an iteration: a first sync starts from an empty lane; a no-change re-sync
 * from a completed sync, made here when the first-sync task was filtered out (BENCH_ONLY).
 */
async function prepareLane(
  ctx: MediaBenchContext,
  lane: MediaLane,
  sync: { firstSync: boolean; withCache: boolean; name: string; initialSync: () => Promise<number> },
): Promise<void> {
  const { firstSync, withCache, name, initialSync } = sync;
  if (firstSync) await resetMediaLane(lane, ctx.scratchDir, withCache);
  else if (!lane.synced) {
    await resetMediaLane(lane, ctx.scratchDir, withCache);
    assertUploaded(`${name} (initial sync)`, await initialSync(), ctx.files);
    lane.synced = true;
  }
}

/** What every media task shares: its group, its input, and its lane opened once and closed after the last round. */
function laneTaskBase(ctx: MediaBenchContext, lane: MediaLane, firstSync: boolean): Pick<BenchTask, "group" | "inputBytes" | "setup" | "teardown"> {
  return {
    group: firstSync ? "media-first-sync" : "media-no-change",
    inputBytes: ctx.bytes,
    setup: async () => {
      // BENCH_S3_DIRECT_PUT=0: media objects through the SDK client, to time the old path beside the new.
      await openMediaLane(lane, ctx.target.s3, process.env.BENCH_S3_DIRECT_PUT === "0" ? { ...ctx.storageOptions, directPut: false } : ctx.storageOptions);
    },
    teardown: () => closeMediaLane(lane),
  };
}

/** Untimed, after an iteration: it did the work it was timed for; record what is in the bucket. */
async function finishIteration(ctx: MediaBenchContext, lane: MediaLane, name: string, firstSync: boolean, uploaded: number, facts: Record<string, number>[], more: Record<string, number> = {}): Promise<void> {
  assertUploaded(name, uploaded, firstSync ? ctx.files : 0);
  lane.synced = true;
  facts.push({ uploadedFiles: uploaded, ...more, objectsInBucket: await countObjects(requireLaneStorage(lane)) });
}

/**
 * backupMedia reads its cache folder from process.env.DR_CACHE_DIR, which every lane shares:
 * point it at this lane's folder just before the lane's sync.
 */
function useLaneCache(lane: MediaLane): void {
  if (!lane.cacheDir) throw new Error(`unable to sync into '${lane.bucket}': the lane has no cache folder`);
  process.env.DR_CACHE_DIR = lane.cacheDir;
}

/**
 * dr-drill backupMedia(): content-addressed objects (one PutObject each, 16 at once), a
 * snapshot file list, a refs list and a manifest. First sync: empty bucket and a fresh,
 * empty DR_CACHE_DIR before each iteration. No change: runs on the completed sync (and warm
 * cache) the first-sync iteration left.
 */
export function makeDrDrillMediaTask(ctx: MediaBenchContext, lane: MediaLane, encrypted: boolean, firstSync: boolean): BenchTask {
  const name = `dr-drill backupMedia ${firstSync ? "first sync" : "no-change re-sync"} (${encrypted ? "age" : "no encryption"})`;
  const excludes = buildConfig(undefined, {}).media.excludes;
  const facts: Record<string, number>[] = [];
  let uploaded: number | undefined;
  return {
    id: `drdrill-${firstSync ? "first" : "nochange"}-${encrypted ? "age" : "plain"}`,
    name,
    ...laneTaskBase(ctx, lane, firstSync),
    command: `backupMedia(ctx) of MEDIA_DIR -> s3://${lane.bucket}/ (DR_CACHE_DIR: ${firstSync ? "fresh empty folder each iteration" : "the one the first sync just filled"})`,
    notes: `${encrypted ? "age-encrypted objects" : "plaintext objects"}; excludes ${excludes.join(" ")}; ${
      firstSync ? "bucket emptied and cache dropped before each iteration (untimed)" : "starts from the completed first sync of the same round"
    }`,
    facts,
    beforeEach: async () => {
      await prepareLane(ctx, lane, {
        firstSync,
        withCache: true,
        name,
        initialSync: async () => {
          useLaneCache(lane);
          return await syncWithDrDrill(ctx, lane, encrypted);
        },
      });
      useLaneCache(lane);
      uploaded = undefined;
    },
    run: async () => {
      uploaded = await syncWithDrDrill(ctx, lane, encrypted);
    },
    afterEach: async () => {
      // A failed iteration is reported by the bench itself; checking it here would hide why.
      if (uploaded !== undefined) await finishIteration(ctx, lane, name, firstSync, uploaded, facts);
    },
  };
}

/**
 * `rclone sync` of the same tree to the same S3 endpoint, configured only through env, with
 * the reference excludes and rclone's default flags (size + modtime compare, 4 transfers,
 * 8 checkers). First sync: empty bucket. No change: runs on the completed first sync.
 */
export function makeRcloneTask(ctx: MediaBenchContext, lane: MediaLane, firstSync: boolean): BenchTask {
  const name = `rclone sync ${firstSync ? "first sync" : "no-change re-sync"} (no encryption)`;
  const env = makeRcloneEnv(ctx.target.s3, ctx.scratchDir);
  const facts: Record<string, number>[] = [];
  const sync = () => runRcloneSync(ctx.target.mediaDir, lane.bucket, RCLONE_PREFIX, env);
  let stats: { transfers: number; checks: number } | undefined;
  return {
    id: `rclone-${firstSync ? "first" : "nochange"}`,
    name,
    ...laneTaskBase(ctx, lane, firstSync),
    command: `${describeRcloneSync("MEDIA_DIR", lane.bucket, RCLONE_PREFIX)} (remote and credentials from RCLONE_CONFIG_DRBENCH_* env, RCLONE_S3_UPLOAD_CUTOFF=64M)`,
    notes: `no encryption, no snapshot: a plain copy of the tree; ${
      firstSync ? "bucket emptied before each iteration (untimed)" : "starts from the completed first sync of the same round"
    }`,
    facts,
    beforeEach: async () => {
      await prepareLane(ctx, lane, { firstSync, withCache: false, name, initialSync: async () => (await sync()).transfers });
      stats = undefined;
    },
    run: async () => {
      stats = await sync();
    },
    afterEach: async () => {
      if (stats) await finishIteration(ctx, lane, name, firstSync, stats.transfers, facts, { checkedFiles: stats.checks });
    },
  };
}
