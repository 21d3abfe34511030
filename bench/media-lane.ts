import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { S3Storage, S3StorageOptions } from "../src/storage/index.ts";
import type { S3Endpoint } from "../src/targets/target.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";

/**
 * One sync tool's own bucket, shared by its first-sync and no-change tasks: a no-change
 * iteration runs on the sync the first-sync iteration of the same round just completed, so
 * no untimed extra full sync is needed (and it is exactly "a completed sync").
 */
export interface MediaLane {
  bucket: string;
  storage: S3Storage | undefined;
  /** dr-drill's DR_CACHE_DIR for this lane; undefined for rclone or before the first sync. */
  cacheDir: string | undefined;
  /** True when the bucket holds a completed sync of the whole tree (and the cache is warm). */
  synced: boolean;
}

/** A lane that is not open yet. */
export function makeMediaLane(bucket: string): MediaLane {
  return { bucket, storage: undefined, cacheDir: undefined, synced: false };
}

/** Open the lane's bucket once, starting empty. */
export async function openMediaLane(lane: MediaLane, endpoint: S3Endpoint, options: S3StorageOptions): Promise<S3Storage> {
  if (!lane.storage) {
    lane.storage = await openBenchBucket(endpoint, lane.bucket, options);
    await emptyBucket(lane.storage);
  }
  return lane.storage;
}

/** The lane's storage, or a clear error when setup did not run. */
export function requireLaneStorage(lane: MediaLane): S3Storage {
  if (!lane.storage) throw new Error(`unable to use bucket '${lane.bucket}': it was not opened`);
  return lane.storage;
}

/**
 * Back to nothing: the bucket emptied (and proven empty) and, for dr-drill, a new empty
 * cache folder, so the next sync is a true first sync.
 */
export async function resetMediaLane(lane: MediaLane, scratchDir: string, withCache: boolean): Promise<void> {
  lane.synced = false;
  await emptyBucket(requireLaneStorage(lane));
  if (lane.cacheDir) await rm(lane.cacheDir, { recursive: true, force: true });
  lane.cacheDir = withCache ? await mkdtemp(join(scratchDir, "dr-cache-")) : undefined;
}

/** Empty the bucket, drop the cache and close the client (idempotent). */
export async function closeMediaLane(lane: MediaLane): Promise<void> {
  if (lane.cacheDir) await rm(lane.cacheDir, { recursive: true, force: true });
  lane.cacheDir = undefined;
  if (!lane.storage) return;
  const storage = lane.storage;
  lane.storage = undefined;
  await emptyBucket(storage);
  storage[Symbol.dispose]();
}
