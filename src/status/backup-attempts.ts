import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { text } from "node:stream/consumers";
import type { ComponentName } from "../config/index.ts";
import { messageOf } from "../errors/index.ts";
import { formatStamp } from "../manifest/backup-id.ts";
import type { Storage } from "../storage/storage.ts";

/** Where backup attempts are recorded, beside the backups (one small object per attempt). */
export const ATTEMPTS_PREFIX = "_dr-drill/attempts/";

/** One `dr-drill backup` of one component, as recorded in the bucket. */
export interface BackupAttempt {
  component: ComponentName;
  /** When the attempt started and (once over) finished, ISO. */
  startedAt: string;
  finishedAt?: string;
  /** running until it ends; a run killed with SIGKILL stays running (status calls it stalled). */
  outcome: "running" | "succeeded" | "failed";
  /** The backup it produced, when it succeeded. */
  backupId?: string;
  /** The one-line reason, when it failed (secrets masked by the caller). */
  reason?: string;
  /** Which machine and process ran it. */
  host: string;
  pid: number;
}

/** A started attempt: finish() records its outcome (best effort: recording never fails a backup). */
export interface AttemptRecorder {
  finish(outcome: { backupId: string } | { error: string }): Promise<void>;
}

/**
 * Record that a backup of `component` starts, so `status` can report a failed or stalled
 * last attempt even while the newest complete backup is still fresh. Best effort: an
 * unwritable bucket fails the backup itself a moment later, with the storage's own error.
 */
export async function recordAttemptStart(storage: Storage, component: ComponentName, now = new Date()): Promise<AttemptRecorder> {
  const key = `${ATTEMPTS_PREFIX}${component}/${formatStamp(now)}-${randomBytes(3).toString("hex")}.json`;
  const attempt: BackupAttempt = { component, startedAt: now.toISOString(), outcome: "running", host: hostname(), pid: process.pid };
  const write = async (value: BackupAttempt) => {
    await storage.put(key, `${JSON.stringify(value)}\n`, { contentType: "application/json" }).catch(() => undefined);
  };
  await write(attempt);
  return {
    finish: async (result) => {
      await write({
        ...attempt,
        finishedAt: new Date().toISOString(),
        ...("backupId" in result ? { outcome: "succeeded", backupId: result.backupId } : { outcome: "failed", reason: result.error.split("\n")[0]!.slice(0, 500) }),
      });
    },
  };
}

/** The newest `limit` attempts of a component, oldest first (keys sort by start time). */
export async function readRecentAttempts(storage: Storage, component: ComponentName, limit = 5): Promise<BackupAttempt[]> {
  const keys: string[] = [];
  for await (const object of storage.list(`${ATTEMPTS_PREFIX}${component}/`)) keys.push(object.key);
  const recent = keys.sort().slice(-limit);
  const attempts: BackupAttempt[] = [];
  for (const key of recent) {
    try {
      attempts.push(JSON.parse(await text(await storage.get(key))) as BackupAttempt);
    } catch (error) {
      attempts.push({ component, startedAt: "", outcome: "failed", reason: `unreadable attempt record ${key}: ${messageOf(error)}`, host: "?", pid: 0 });
    }
  }
  return attempts;
}

/** Delete attempt records older than `olderThanMs`, always keeping the newest `keep`. Returns how many went. */
export async function pruneAttempts(storage: Storage, component: ComponentName, olderThanMs: number, now = new Date(), keep = 20): Promise<number> {
  const objects: { key: string; lastModified: number }[] = [];
  for await (const object of storage.list(`${ATTEMPTS_PREFIX}${component}/`)) objects.push(object);
  const sorted = objects.sort((a, b) => a.key.localeCompare(b.key));
  const candidates = sorted.slice(0, Math.max(0, sorted.length - keep));
  const cutoff = formatStamp(new Date(now.getTime() - olderThanMs));
  const old = candidates.filter((o) => o.key.slice(`${ATTEMPTS_PREFIX}${component}/`.length) < cutoff).map((o) => o.key);
  if (old.length) await storage.deleteMany(old);
  return old.length;
}
