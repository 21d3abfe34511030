// Media retention against a real S3 endpoint: unreferenced content objects are deleted, and
// never while a media backup runs (storage locks, src/storage/storage-lock.ts).
import { createHash } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRetention, backupMedia, planComponentRetention, verifyBackup } from "../src/components/index.ts";
import { isDrError, type DrError } from "../src/errors/index.ts";
import { listCompleteBackups, mediaObjectKey, mediaRefsKey } from "../src/manifest/index.ts";
import { S3Storage } from "../src/storage/index.ts";
import { StorageLock } from "../src/storage/storage-lock.ts";
import { listKeys, startNativeFixture, type NativeFixture } from "./helpers/native-fixture.ts";

let fx: NativeFixture;

beforeAll(async () => {
  fx = await startNativeFixture();
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

/** Retention that keeps only the newest media snapshot (every older one is past it). */
async function pruneAllButNewest() {
  const policy = { ...fx.config.schedule.media, retentionMs: 0 };
  return await applyRetention(fx.storage, await planComponentRetention(fx.storage, "media", policy));
}

/** A file of its own content in the media folder; returns the key its content is stored under. */
async function writeMediaFile(path: string, text: string): Promise<string> {
  await writeFile(join(fx.target.mediaDir, path), text);
  return `${mediaObjectKey(createHash("sha256").update(text).digest("hex"))}.age`;
}

describe("media prune", () => {
  it("deletes exactly the content objects no remaining snapshot refers to", async () => {
    const only = await writeMediaFile("only-in-first.txt", `only in the first snapshot ${Date.now()}`);
    await backupMedia(fx.ctx());
    await rm(join(fx.target.mediaDir, "only-in-first.txt"));
    const second = await backupMedia(fx.ctx());
    const before = await listKeys(fx.storage, "media/objects/");
    expect(before).toContain(only);

    const preview = await planComponentRetention(fx.storage, "media", { ...fx.config.schedule.media, retentionMs: 0 }, new Date(), { previewOrphans: true });
    expect(preview.orphanObjects).toEqual([only]);
    const outcome = await pruneAllButNewest();
    expect(outcome.orphanNote).toBeUndefined();
    expect(outcome.orphansDeleted).toBe(1);
    expect(await listKeys(fx.storage, "media/objects/")).toEqual(before.filter((key) => key !== only));
    expect((await listCompleteBackups(fx.storage, "media")).map((m) => m.id)).toEqual([second.id]);
    expect((await verifyBackup({ storage: fx.storage, manifest: second, identities: [fx.identity] })).ok).toBe(true);
    expect(await listKeys(fx.storage, "_dr-drill/locks/")).toEqual([]);
  });

  it("deletes no content object while a media backup runs, so the backup's snapshot stays whole", async () => {
    // A file that leaves, then comes back: its object is unreferenced once the old snapshot
    // goes, yet the next backup finds it stored and refers to it without uploading it again.
    const text = `leaves and comes back ${Date.now()}`;
    const returning = await writeMediaFile("0-returning.txt", text);
    await backupMedia(fx.ctx());
    await rm(join(fx.target.mediaDir, "0-returning.txt"));
    await backupMedia(fx.ctx());
    await writeMediaFile("0-returning.txt", text);

    // Pause the next backup on the last file: by then it has listed the store and decided
    // not to upload the returning file (16 files in flight, and it sorts first).
    const last = (await listMediaPaths()).at(-1)!;
    let paused!: () => void;
    const reachedLast = new Promise<void>((resolve) => (paused = resolve));
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const running = backupMedia(fx.ctx(), {
      beforeRead: async (path) => {
        if (path !== last) return;
        paused();
        await resumed;
      },
    });
    try {
      await reachedLast;
      const objects = await listKeys(fx.storage, "media/objects/");
      expect(objects).toContain(returning);
      const outcome = await pruneAllButNewest();
      expect(outcome.orphanNote).toMatch(/^unreferenced media objects kept: backup lock '_dr-drill\/locks\/media\/backup-[^']+' \(written \d+ s ago\) is live$/);
      expect(await listKeys(fx.storage, "media/objects/")).toEqual(objects);
    } finally {
      // Let the backup finish before anything else runs, whatever happened above.
      resume();
      await running.catch(() => undefined);
    }
    const manifest = await running;
    expect(manifest.media!.uploadedFiles).toBe(0);
    expect((await verifyBackup({ storage: fx.storage, manifest, identities: [fx.identity] })).ok).toBe(true);
    expect(await listKeys(fx.storage, "_dr-drill/locks/")).toEqual([]);
  });

  it("makes a media backup wait for a running prune, and fail clearly when the prune does not end", async () => {
    const prune = await StorageLock.acquire(fx.storage, "media", "prune");
    const before = await listCompleteBackups(fx.storage, "media");
    let error: unknown;
    try {
      await backupMedia(fx.ctx({ lockTiming: { waitMs: 1500 } }));
    } catch (e) {
      error = e;
    }
    expect(isDrError(error, "BACKUP_FAILED")).toBe(true);
    expect((error as DrError).message).toContain(`a prune of the media store is still running after 2 s: prune lock '${prune.key}'`);
    expect((error as DrError).hint).toContain("goes stale by itself");
    expect(await listCompleteBackups(fx.storage, "media")).toEqual(before);
    expect(await listKeys(fx.storage, "_dr-drill/locks/")).toEqual([prune.key]);

    // The same backup waits, and runs once the prune lets go.
    const started = performance.now();
    setTimeout(() => void prune.release(), 1000);
    const manifest = await backupMedia(fx.ctx({ lockTiming: { waitMs: 30_000 } }));
    expect(performance.now() - started).toBeGreaterThan(1000);
    expect((await listCompleteBackups(fx.storage, "media")).at(-1)!.id).toBe(manifest.id);
    expect(await listKeys(fx.storage, "_dr-drill/locks/")).toEqual([]);
  });

  it("keeps every content object when a kept snapshot has lost its refs list", async () => {
    const newest = (await listCompleteBackups(fx.storage, "media")).at(-1)!;
    const refs = mediaRefsKey(newest.id);
    const saved = Buffer.concat(await (await fx.storage.get(refs)).toArray());
    await fx.storage.delete(refs);
    const before = await listKeys(fx.storage, "media/objects/");
    try {
      const outcome = await pruneAllButNewest();
      expect(outcome.orphanNote).toBe(`snapshot ${newest.id} has no refs list; unreferenced media objects kept`);
      expect(outcome.orphansDeleted).toBe(0);
      expect(await listKeys(fx.storage, "media/objects/")).toEqual(before);
    } finally {
      await fx.storage.put(refs, saved);
    }
  });

  it("a missing bucket fails the media backup at its lock with the storage's own error and hint", async () => {
    const storage = new S3Storage({ ...fx.target.s3, bucket: "no-such-media-bucket" });
    let error: unknown;
    try {
      await backupMedia(fx.ctx({ storage }));
    } catch (e) {
      error = e;
    } finally {
      storage.client.destroy();
    }
    expect(isDrError(error, "STORAGE_FAILED")).toBe(true);
    expect((error as DrError).message).toMatch(/^unable to put object 's3:\/\/no-such-media-bucket\/_dr-drill\/locks\/media\/backup-[^']+': bucket 'no-such-media-bucket' does not exist$/);
    expect((error as DrError).hint).toContain("DR_S3_BUCKET");
  });

  it("ignores a lock its holder stopped refreshing (a crashed backup blocks nothing for long)", async () => {
    const orphan = await writeMediaFile("short-lived.txt", `short-lived ${Date.now()}`);
    await backupMedia(fx.ctx());
    await rm(join(fx.target.mediaDir, "short-lived.txt"));
    await backupMedia(fx.ctx());
    const crashed = await StorageLock.acquire(fx.storage, "media", "backup", { refreshMs: 3_600_000 });
    try {
      // Eleven minutes on: the lock was last written more than the 10 stale minutes ago.
      const later = () => Date.now() + 11 * 60_000;
      const policy = { ...fx.config.schedule.media, retentionMs: 0 };
      const outcome = await applyRetention(fx.storage, await planComponentRetention(fx.storage, "media", policy), { now: later });
      expect(outcome.orphanNote).toBeUndefined();
      expect(await listKeys(fx.storage, "media/objects/")).not.toContain(orphan);
    } finally {
      await crashed.release();
    }
  });
});

/** The media folder's files as backupMedia orders them (sorted relative paths, excludes applied). */
async function listMediaPaths(): Promise<string[]> {
  const { walkMedia } = await import("../src/components/media/media-walk.ts");
  const { makeExcludeMatcher } = await import("../src/components/media/media-exclude.ts");
  return (await walkMedia(fx.target.mediaDir, makeExcludeMatcher(fx.config.media.excludes))).files.map((f) => f.path);
}
