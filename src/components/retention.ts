import { text } from "node:stream/consumers";
import type { ComponentName, SchedulePolicy } from "../config/index.ts";
import { isDrError } from "../errors/index.ts";
import { type BackupEntry, listBackups, mediaRefsKey } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { type LockTiming, StorageLock, describeLock } from "../storage/storage-lock.ts";

/** Incomplete backup folders younger than this may still be running: never touched. */
export const INCOMPLETE_GRACE_MS = 24 * 3_600_000;

/** One backup folder retention will remove, and why. */
export interface RetentionDeletion {
  id: string;
  status: BackupEntry["status"];
  keys: string[];
  bytes: number;
  reason: string;
}

/** What retention decided for one component. */
export interface RetentionPlan {
  component: ComponentName;
  /** Complete backups kept, oldest first. */
  kept: string[];
  deletions: RetentionDeletion[];
  /**
   * Media content objects no kept snapshot refers to, when the plan was asked to preview
   * them (a dry run): applying a plan recomputes them under the media lock.
   */
  orphanObjects: string[];
  /** Why orphan objects were not computed, when they were not. */
  orphanNote?: string;
}

/**
 * Decide what to delete: complete backups older than the retention window, except the
 * newest complete backup, which is kept whatever its age (a stalled schedule must never
 * leave zero backups); incomplete folders only when older than the grace period and older
 * than the newest complete backup (a backup still running is never removed). Pure.
 */
export function planRetention(component: ComponentName, entries: readonly BackupEntry[], policy: Pick<SchedulePolicy, "retentionMs">, now: Date): RetentionPlan {
  const complete = entries.filter((e) => e.status === "complete");
  const newest = complete.at(-1);
  const cutoff = now.getTime() - policy.retentionMs;
  const deletions: RetentionDeletion[] = [];
  const kept: string[] = [];
  for (const entry of entries) {
    const age = now.getTime() - entry.date.getTime();
    if (entry.status === "complete") {
      if (entry === newest || entry.date.getTime() >= cutoff) kept.push(entry.id);
      else deletions.push({ id: entry.id, status: entry.status, keys: entry.keys, bytes: entry.bytes, reason: `older than retention (${Math.round(age / 3_600_000)}h)` });
    } else if (age > INCOMPLETE_GRACE_MS && newest && entry.date < newest.date) {
      deletions.push({ id: entry.id, status: entry.status, keys: entry.keys, bytes: entry.bytes, reason: `incomplete (${entry.status}) and older than the newest complete backup` });
    }
  }
  return { component, kept, deletions, orphanObjects: [] };
}

/** Content objects not referenced by any kept media snapshot (needs every kept snapshot's refs). */
async function findOrphanObjects(storage: Storage, kept: readonly string[]): Promise<{ orphans: string[]; note?: string }> {
  const referenced = new Set<string>();
  for (const id of kept) {
    const refs = await storage.get(mediaRefsKey(id)).catch((error: unknown) => {
      if (isDrError(error, "STORAGE_NOT_FOUND")) return undefined;
      throw error;
    });
    if (!refs) return { orphans: [], note: `snapshot ${id} has no refs list; unreferenced media objects kept` };
    for (const key of (await text(refs)).split("\n")) if (key) referenced.add(key);
  }
  const orphans: string[] = [];
  for await (const object of storage.list("media/objects/")) if (!referenced.has(object.key)) orphans.push(object.key);
  return { orphans };
}

/**
 * Plan retention for a component from what is in storage. `previewOrphans` also lists the
 * media content objects that would go (for a dry run; applying recomputes them anyway).
 */
export async function planComponentRetention(
  storage: Storage,
  component: ComponentName,
  policy: SchedulePolicy,
  now = new Date(),
  options: { previewOrphans?: boolean } = {},
): Promise<RetentionPlan> {
  const plan = planRetention(component, await listBackups(storage, component), policy, now);
  if (options.previewOrphans && component === "media" && plan.kept.length > 0) {
    const { orphans, note } = await findOrphanObjects(storage, plan.kept);
    plan.orphanObjects = orphans;
    if (note) plan.orphanNote = note;
  }
  return plan;
}

/** What applying a plan did. */
export interface RetentionOutcome {
  deletedObjects: number;
  deletedBytes: number;
  /** Media only: unreferenced content objects deleted (counted in deletedObjects too). */
  orphansDeleted: number;
  /** Media only: why unreferenced content objects were kept this time. */
  orphanNote?: string;
}

const DELETE_BATCH = 1000;

/**
 * Delete the media content objects no complete snapshot refers to, under the exclusive media
 * lock: when any other live lock exists (a media backup running, another prune) nothing is
 * deleted, because a running backup may be about to refer to an object that looks
 * unreferenced now. The references are read under the lock, not taken from the plan: a
 * snapshot completed since planning counts.
 */
async function deleteOrphanObjects(storage: Storage, timing: Partial<LockTiming>): Promise<{ deleted: number; note?: string }> {
  const lock = await StorageLock.acquire(storage, "media", "prune", timing);
  try {
    const others = await lock.others();
    if (others.length) return { deleted: 0, note: `unreferenced media objects kept: ${others.map((o) => describeLock(o, timing.now?.())).join(", ")} is live` };
    const kept = (await listBackups(storage, "media")).filter((e) => e.status === "complete").map((e) => e.id);
    if (kept.length === 0) return { deleted: 0, note: "unreferenced media objects kept: no complete media snapshot to compare with" };
    const { orphans, note } = await findOrphanObjects(storage, kept);
    for (let at = 0; at < orphans.length; at += DELETE_BATCH) {
      lock.assertHeld();
      await storage.deleteMany(orphans.slice(at, at + DELETE_BATCH));
    }
    return { deleted: orphans.length, ...(note ? { note } : {}) };
  } finally {
    await lock.release();
  }
}

/**
 * Apply a plan: delete manifests first (so a half-pruned backup is incomplete, never
 * "complete but broken"), then the rest; for media, then the unreferenced content objects
 * (deleteOrphanObjects, under the media lock).
 */
export async function applyRetention(storage: Storage, plan: RetentionPlan, lockTiming: Partial<LockTiming> = {}): Promise<RetentionOutcome> {
  let deletedObjects = 0;
  let deletedBytes = 0;
  for (const deletion of plan.deletions) {
    const manifests = deletion.keys.filter((k) => k.endsWith("/manifest.json"));
    await storage.deleteMany(manifests);
    await storage.deleteMany(deletion.keys.filter((k) => !k.endsWith("/manifest.json")));
    deletedObjects += deletion.keys.length;
    deletedBytes += deletion.bytes;
  }
  if (plan.component !== "media") return { deletedObjects, deletedBytes, orphansDeleted: 0 };
  const orphans = await deleteOrphanObjects(storage, lockTiming);
  return { deletedObjects: deletedObjects + orphans.deleted, deletedBytes, orphansDeleted: orphans.deleted, ...(orphans.note ? { orphanNote: orphans.note } : {}) };
}
