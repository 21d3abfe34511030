import { S3Storage } from "../src/storage/index.ts";
import type { S3StorageOptions } from "../src/storage/index.ts";
import type { S3Endpoint } from "../src/targets/target.ts";

/**
 * A bucket of its own on the target's S3 endpoint, so no tool ever sees another's objects
 * (made if missing). Options reach S3Storage unchanged, for part-size experiments.
 */
export async function openBenchBucket(endpoint: S3Endpoint, bucket: string, options: S3StorageOptions = {}): Promise<S3Storage> {
  const storage = new S3Storage({ ...endpoint, bucket, prefix: "" }, options);
  await storage.createBucket();
  return storage;
}

/** Objects in the bucket now. */
export async function countObjects(storage: S3Storage): Promise<number> {
  let count = 0;
  for await (const _object of storage.list("")) count += 1;
  return count;
}

const MAX_EMPTY_PASSES = 5;

/**
 * Delete every object of the bucket and prove it is empty, so a "first sync" really starts
 * from nothing. Several passes: fauxqs's paged ListObjectsV2 skipped a few keys of a
 * 10 000-object bucket written by rclone (9 996 listed), which only a second, shorter
 * listing finds.
 */
export async function emptyBucket(storage: S3Storage): Promise<void> {
  for (let pass = 0; pass < MAX_EMPTY_PASSES; pass++) {
    const keys: string[] = [];
    for await (const object of storage.list("")) keys.push(object.key);
    if (keys.length === 0) return;
    await storage.deleteMany(keys);
  }
  const left = await countObjects(storage);
  if (left !== 0) throw new Error(`unable to empty bucket '${storage.location}': ${left} object(s) left after ${MAX_EMPTY_PASSES} passes`);
}
