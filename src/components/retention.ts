import { text } from "node:stream/consumers";
import type { ComponentName, SchedulePolicy } from "../config/index.ts";
import { isDrError, messageOf } from "../errors/index.ts";
import { type BackupEntry, CLOCK_SKEW_MS, findFutureDate, listBackups, mediaRefsKey } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { type LockTiming, StorageLock, describeLock } from "../storage/storage-lock.ts";
import { readRefsList } from "./media/media-lists.ts";

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

/** A backup folder retention neither keeps as a good backup nor deletes, and why. */
export interface RetentionHold {
  id: string;
  status: BackupEntry["status"];
  reason: string;
}

/** What retention decided for one component. */
export interface RetentionPlan {
  component: ComponentName;
  /** Complete backups kept, oldest first. */
  kept: string[];
  deletions: RetentionDeletion[];
  /**
   * Folders left alone that are not good backups: future-dated ones (never deleted, never
   * the newest: an operator decides), and incomplete ones not yet old enough to delete.
   */
  held: RetentionHold[];
  /**
   * Media content objects no kept snapshot refers to, when the plan was asked to preview
   * them (a dry run): applying a plan recomputes them under the media lock.
   */
  orphanObjects: string[];
  /** Why orphan objects were not computed, when they were not. */
  orphanNote?: string;
}

/**
 * Why a folder counts as dated in the future at `now`, or undefined: listBackups' verdict,
 * or the same judgement on its manifest or its id (entries listed at another time).
 */
function findEntryFuture(entry: BackupEntry, now: Date): string | undefined {
  if (entry.status === "futureDated") return entry.problem ?? `backup '${entry.id}' is dated in the future`;
  const future = entry.manifest ? findFutureDate(entry.manifest, now) : undefined;
  if (future) return `backup '${entry.id}' is ${future}`;
  if (entry.date.getTime() - now.getTime() > CLOCK_SKEW_MS) return `backup '${entry.id}' is dated in the future: its id says ${entry.date.toISOString()}, after this machine's clock (${now.toISOString()})`;
  return undefined;
}

/**
 * Decide what to delete: complete backups older than the retention window, except the
 * newest complete backup, which is kept whatever its age (a stalled schedule must never
 * leave zero backups); incomplete folders only when older than the grace period and older
 * than the newest complete backup (a backup still running is never removed). A backup
 * dated in the future (listBackups' futureDated, judged at the same `now`) is not complete:
 * it is never the newest, so it cannot get real backups deleted, and is never deleted
 * itself. Folders dated after `now` are never deleted whatever their status. Pure.
 */
export function planRetention(component: ComponentName, entries: readonly BackupEntry[], policy: Pick<SchedulePolicy, "retentionMs">, now: Date): RetentionPlan {
  const future = new Map(entries.map((e) => [e, findEntryFuture(e, now)]));
  const complete = entries.filter((e) => e.status === "complete" && !future.get(e));
  const newest = complete.at(-1);
  const cutoff = now.getTime() - policy.retentionMs;
  const deletions: RetentionDeletion[] = [];
  const kept: string[] = [];
  const held: RetentionHold[] = [];
  for (const entry of entries) {
    const age = now.getTime() - entry.date.getTime();
    const deletion = { id: entry.id, status: entry.status, keys: entry.keys, bytes: entry.bytes };
    const ahead = future.get(entry);
    if (ahead) {
      held.push({ id: entry.id, status: entry.status, reason: `${ahead}; kept for an operator to judge, never counted as the newest` });
    } else if (entry.status === "complete") {
      if (entry === newest || entry.date.getTime() >= cutoff) kept.push(entry.id);
      else deletions.push({ ...deletion, reason: `older than retention (${Math.round(age / 3_600_000)}h)` });
    } else if (age > INCOMPLETE_GRACE_MS && newest && entry.date < newest.date) {
      deletions.push({ ...deletion, reason: `incomplete (${entry.status}) and older than the newest complete backup${entry.problem ? `: ${entry.problem}` : ""}` });
    } else {
      held.push({ id: entry.id, status: entry.status, reason: `incomplete (${entry.status}), deleted once older than ${INCOMPLETE_GRACE_MS / 3_600_000}h and than a newer complete backup${entry.problem ? `: ${entry.problem}` : ""}` });
    }
  }
  return { component, kept, deletions, held, orphanObjects: [] };
}

/** The refs of a snapshot folder with no manifest (running or dead): unverifiable, but they only keep more. */
async function readUnverifiedRefs(storage: Storage, id: string): Promise<string[]> {
  const refs = await storage.get(mediaRefsKey(id)).catch((error: unknown) => {
    if (isDrError(error, "STORAGE_NOT_FOUND")) return undefined;
    throw error;
  });
  return refs ? (await text(refs)).split("\n").filter((key) => key !== "") : [];
}

/**
 * Content objects no remaining media snapshot folder refers to. Deleting one is final, so
 * every list this trusts must verify: the refs list of each snapshot with a readable
 * manifest (complete or future-dated) must match the SHA-256 its manifest recorded, and a
 * folder whose manifest is unreadable or invalid may be a real snapshot whose references
 * are unknown. Either way nothing is deleted, with the reason. Folders without a manifest
 * add whatever refs they have (a reference too many keeps an object; never loses one).
 */
async function findOrphanObjects(storage: Storage, remaining: readonly BackupEntry[]): Promise<{ orphans: string[]; note?: string }> {
  const referenced = new Set<string>();
  const keep = (note: string) => ({ orphans: [], note: `${note}; unreferenced media objects kept` });
  for (const entry of remaining) {
    if (entry.status === "unreadableManifest" || entry.status === "invalidManifest") {
      return keep(`snapshot ${entry.id} has an ${entry.status === "invalidManifest" ? "invalid" : "unreadable"} manifest (${entry.problem ?? "no reason given"}), so its references are unknown`);
    }
    let keys: string[];
    if (entry.status === "missingManifest") {
      keys = await readUnverifiedRefs(storage, entry.id);
    } else {
      try {
        keys = await readRefsList(storage, entry.manifest!);
      } catch (error) {
        if (isDrError(error, "STORAGE_NOT_FOUND")) return keep(`snapshot ${entry.id} has no refs list`);
        if (isDrError(error, "INTEGRITY_FAILED")) return keep(`snapshot ${entry.id}'s refs list does not verify: ${messageOf(error)}`);
        throw error;
      }
    }
    for (const key of keys) referenced.add(key);
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
  const entries = await listBackups(storage, component, now);
  const plan = planRetention(component, entries, policy, now);
  if (options.previewOrphans && component === "media" && plan.kept.length > 0) {
    const deleted = new Set(plan.deletions.map((d) => d.id));
    const { orphans, note } = await findOrphanObjects(storage, entries.filter((e) => !deleted.has(e.id)));
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
 * Delete the media content objects no snapshot refers to, under the exclusive media
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
    const remaining = await listBackups(storage, "media");
    if (!remaining.some((e) => e.status === "complete")) return { deleted: 0, note: "unreferenced media objects kept: no complete media snapshot to compare with" };
    const { orphans, note } = await findOrphanObjects(storage, remaining);
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
