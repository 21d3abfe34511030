import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { DrError, messageOf } from "../../errors/index.ts";
import { type BackupManifest, type StoredPart, makeBackupId, mediaFileListKey, mediaObjectKey, mediaRefsKey, writeManifest } from "../../manifest/index.ts";
import { hashStream, sha256Hex } from "../../streams/hash-stream.ts";
import { DEFAULT_LOCK_TIMING, StorageLock, describeLock } from "../../storage/storage-lock.ts";
import { mapConcurrent } from "../../util/map-concurrent.ts";
import { type BackupContext, describeEncryption, encryptedSuffix } from "../backup-context.ts";
import { uploadBuffer, uploadPart } from "../upload-part.ts";
import { type CachedFile, mediaCachePath, readMediaCache, writeMediaCache } from "./media-cache.ts";
import { makeExcludeMatcher } from "./media-exclude.ts";
import { formatRefsList, plainPart } from "./media-lists.ts";
import type { SnapshotFile, SnapshotFileList } from "./media-snapshot.ts";
import { walkMedia } from "./media-walk.ts";

// 16 files in flight: measured faster than 8 on 10,000 small files (per-request latency dominates).
const CONCURRENCY = 16;
// Files up to this size are read once into memory (hash, encrypt, put from the buffer).
const SMALL_FILE_BYTES = 8 * 1024 * 1024;
// How long a media backup waits for a running prune of the media store to finish.
const PRUNE_WAIT_MS = 15 * 60_000;
const PRUNE_POLL_MS = 2_000;

/**
 * Hold the shared media lock and wait until no prune of unreferenced objects is running:
 * from then on no object this backup sees in the store can be deleted under it (a prune
 * that starts later sees this lock and deletes nothing). See storage-lock.ts.
 */
async function lockMediaStore(ctx: BackupContext): Promise<StorageLock> {
  const timing = ctx.lockTiming ?? {};
  const lock = await StorageLock.acquire(ctx.storage, "media", "backup", timing);
  const waitMs = timing.waitMs ?? PRUNE_WAIT_MS;
  const started = performance.now();
  try {
    for (;;) {
      const prunes = (await lock.others()).filter((other) => other.kind === "prune");
      if (prunes.length === 0) return lock;
      if (performance.now() - started >= waitMs) {
        throw new DrError("BACKUP_FAILED", `unable to back up media folder '${ctx.mediaDir}': a prune of the media store is still running after ${Math.round(waitMs / 1000)} s: ${prunes.map((p) => describeLock(p)).join(", ")}`, {
          hint: `run the backup again when the prune has finished; a lock whose holder died goes stale by itself after ${Math.round((timing.staleMs ?? DEFAULT_LOCK_TIMING.staleMs) / 60_000)} minutes`,
        });
      }
      await sleep(Math.min(PRUNE_POLL_MS, waitMs), undefined, { signal: ctx.signal });
    }
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** True for "the file is gone" errors, which a live media folder produces. */
function isVanished(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ESTALE";
}

/** Every content object already stored (one paged listing, no per-file HEAD). */
async function listStoredObjects(ctx: BackupContext): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const object of ctx.storage.list("media/objects/")) keys.add(object.key);
  return keys;
}

export interface MediaBackupOptions {
  /** Hash every file even when size/mtime/inode match the cache. */
  checksum?: boolean;
  /** Called before each file is read (fault injection in tests: a file vanishing mid-sync). */
  beforeRead?: (relativePath: string) => Promise<void>;
}

/**
 * Incremental media backup, like `aws s3 sync --delete` but restorable at any retained
 * point: file contents are stored once by SHA-256 (new and changed files upload, unchanged
 * ones do not), and each run writes a dated snapshot listing path, size and hash of every
 * file. A file removed from the folder is absent from the new snapshot; its content is
 * deleted by retention once no kept snapshot refers to it. A second run with no change
 * uploads no file bytes. The run holds the shared media lock in storage, so retention
 * deletes no content object while it runs (storage-lock.ts).
 */
export async function backupMedia(ctx: BackupContext, options: MediaBackupOptions = {}): Promise<BackupManifest> {
  const lock = await lockMediaStore(ctx);
  try {
    return await backupMediaLocked(ctx, options, lock);
  } finally {
    await lock.release();
  }
}

async function backupMediaLocked(ctx: BackupContext, options: MediaBackupOptions, lock: StorageLock): Promise<BackupManifest> {
  const now = ctx.now ?? (() => new Date());
  const started = now();
  const id = makeBackupId("media", started);
  const excludes = ctx.config.media.excludes;
  const walk = await walkMedia(ctx.mediaDir, makeExcludeMatcher(excludes)).catch((error: unknown) => {
    throw new DrError("BACKUP_FAILED", `unable to read media folder '${ctx.mediaDir}': ${messageOf(error)}`, {
      cause: error,
      hint: "check DR_MEDIA_DIR points at an existing, readable folder",
    });
  });
  const cachePath = mediaCachePath(ctx.mediaDir, ctx.storage.location);
  const cache = options.checksum ? new Map<string, CachedFile>() : await readMediaCache(cachePath);
  const stored = await listStoredObjects(ctx);
  const suffix = encryptedSuffix(ctx.recipients);
  const vanished = [...walk.vanished];
  let uploadedFiles = 0;
  let uploadedBytes = 0;
  let uploadedStoredBytes = 0;
  const keyOf = (sha256: string) => `${mediaObjectKey(sha256)}${suffix}`;
  const counted = (part: StoredPart) => {
    uploadedFiles += 1;
    uploadedBytes += part.plainSize;
    uploadedStoredBytes += part.size;
    ctx.onProgress?.("upload", uploadedStoredBytes);
  };

  try {
    const entries = await mapConcurrent(walk.files, CONCURRENCY, async (file): Promise<SnapshotFile | undefined> => {
      try {
        await options.beforeRead?.(file.path);
        const cached = cache.get(file.path);
        const known = cached && cached.size === file.size && cached.mtimeMs === file.mtimeMs && cached.ino === file.ino ? cached.sha256 : undefined;
        const path = join(ctx.mediaDir, file.path);
        let sha256: string;
        let size = file.size;
        if (known && stored.has(keyOf(known))) {
          sha256 = known;
        } else if (file.size <= SMALL_FILE_BYTES) {
          // One read: hash and upload the same bytes, so they cannot differ.
          const data = await readFile(path);
          size = data.byteLength;
          sha256 = sha256Hex(data);
          if (!stored.has(keyOf(sha256))) {
            stored.add(keyOf(sha256));
            counted(await uploadBuffer({ storage: ctx.storage, key: keyOf(sha256), data, plainSha256: sha256, recipients: ctx.recipients, signal: ctx.signal }));
          }
        } else {
          sha256 = known ?? (await hashStream(createReadStream(path))).sha256;
          const key = keyOf(sha256);
          if (!stored.has(key)) {
            stored.add(key);
            const part = await uploadPart({ storage: ctx.storage, key, source: createReadStream(path), recipients: ctx.recipients, signal: ctx.signal });
            if (part.plainSha256 !== sha256) {
              // Changed between hashing and upload: the object would not match its name.
              await ctx.storage.delete(key);
              stored.delete(key);
              vanished.push(file.path);
              return undefined;
            }
            counted(part);
          }
        }
        cache.set(file.path, { size, mtimeMs: file.mtimeMs, ino: file.ino, sha256 });
        return { path: file.path, size, sha256, mtimeMs: file.mtimeMs, key: keyOf(sha256) };
      } catch (error) {
        if (isVanished(error)) {
          vanished.push(file.path);
          cache.delete(file.path);
          return undefined;
        }
        throw error;
      }
    });
    const files = entries.filter((e): e is SnapshotFile => e !== undefined);
    // Only while the lock held throughout may the snapshot claim the objects it refers to.
    lock.assertHeld();
    const list: SnapshotFileList = { formatVersion: 1, id, files };
    const part = await uploadPart({
      storage: ctx.storage,
      key: mediaFileListKey(id, ctx.recipients.length > 0),
      source: Readable.from([Buffer.from(JSON.stringify(list))]),
      recipients: ctx.recipients,
      contentType: ctx.recipients.length ? "application/octet-stream" : "application/json",
      signal: ctx.signal,
    });
    // Plain list of referenced content keys (hashes only, no paths): lets retention find
    // unreferenced objects without the secret key. A part of the manifest, so its SHA-256
    // is recorded: retention trusts it only when it still matches (media-lists.ts).
    const refsText = formatRefsList(files);
    const refsPart = plainPart(mediaRefsKey(id), refsText);
    await ctx.storage.put(refsPart.key, refsText, { contentType: "text/plain", sha256: refsPart.sha256 });
    const present = new Set(walk.files.map((f) => f.path));
    for (const path of [...cache.keys()]) if (!present.has(path)) cache.delete(path);

    const manifest: BackupManifest = {
      formatVersion: 1,
      id,
      component: "media",
      source: `file://${ctx.mediaDir}`,
      startedAt: started.toISOString(),
      finishedAt: now().toISOString(),
      consistentAt: started.toISOString(),
      format: "media snapshot",
      compression: "none",
      parts: [part, refsPart],
      storedBytes: part.size + refsPart.size + uploadedStoredBytes,
      encryption: describeEncryption(ctx.recipients),
      tools: { node: process.versions.node },
      media: {
        files: files.length,
        bytes: files.reduce((sum, f) => sum + f.size, 0),
        uploadedFiles,
        uploadedBytes,
        excludedFiles: walk.excluded,
        vanishedFiles: vanished.sort(),
        excludes: [...excludes],
      },
    };
    lock.assertHeld();
    await writeManifest(ctx.storage, manifest);
    await writeMediaCache(cachePath, cache).catch(() => undefined);
    return manifest;
  } catch (error) {
    // Content objects uploaded by a failed run are harmless (content-addressed, reused by
    // the next run, or pruned as unreferenced); the snapshot simply does not exist.
    if (error instanceof DrError) throw error;
    throw new DrError("BACKUP_FAILED", `unable to back up media folder '${ctx.mediaDir}': ${messageOf(error)}`, { cause: error });
  }
}
