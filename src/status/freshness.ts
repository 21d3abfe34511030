import { type ComponentName, type DrConfig, formatDuration } from "../config/index.ts";
import { listCompleteBackups } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { readRecentAttempts, type BackupAttempt } from "./backup-attempts.ts";

/**
 * Grace past a component's interval before its newest backup counts as stale: half an
 * interval. An hourly backup is stale once it is 90 minutes old, a 15-minute one at 22.5
 * minutes, a daily one at 36 hours: a run may be late or slow, a missed run is an alert.
 */
export function staleGraceMs(intervalMs: number): number {
  return intervalMs / 2;
}

/** One component's freshness, as `dr-drill status` prints it and the textfile exports it. */
export interface ComponentStatus {
  component: ComponentName;
  /** fresh / stale / missing, or not configured (neutral: never verified, never a failure). */
  verdict: "fresh" | "stale" | "missing" | "not configured";
  /** The newest complete backup, when there is one. */
  newest?: { id: string; consistentAt: string; finishedAt: string; storedBytes: number };
  /** Age of the newest backup's data (now - its consistent point), ms. */
  ageMs?: number;
  /** The schedule interval and the grace after it, ms. */
  intervalMs: number;
  graceMs: number;
  /** The newest recorded attempt (running, succeeded or failed), when any was recorded. */
  lastAttempt?: BackupAttempt;
  /** Whether the newest finished attempt succeeded; undefined when none was recorded. */
  lastAttemptSucceeded?: boolean;
  /** The replica's lag, when a replica repository is configured. */
  replica?: { location: string; newest?: string; ageMs?: number; missing: string[] };
  /** Everything wrong with this component, one line each; empty when ok. */
  problems: string[];
  /** fresh and the last attempt did not fail (or the component is not configured). */
  ok: boolean;
}

/**
 * Judge one component from the repository alone: its newest complete backup's age against
 * the schedule interval plus grace, and its recorded attempts (a failed newest attempt is
 * a problem even while the newest backup is fresh; one left running longer than the
 * interval plus grace is a stalled run).
 */
export async function readComponentStatus(storage: Storage, config: DrConfig, component: ComponentName, configured: boolean, now = new Date()): Promise<ComponentStatus> {
  const intervalMs = config.schedule[component].intervalMs;
  const graceMs = staleGraceMs(intervalMs);
  const complete = await listCompleteBackups(storage, component);
  const newestManifest = complete.at(-1);
  const attempts = await readRecentAttempts(storage, component);
  const lastAttempt = attempts.at(-1);
  const finished = [...attempts].reverse().find((a) => a.outcome !== "running");
  const status: ComponentStatus = {
    component,
    verdict: "missing",
    intervalMs,
    graceMs,
    lastAttempt,
    lastAttemptSucceeded: finished ? finished.outcome === "succeeded" : undefined,
    problems: [],
    ok: false,
  };
  if (newestManifest) {
    status.newest = { id: newestManifest.id, consistentAt: newestManifest.consistentAt, finishedAt: newestManifest.finishedAt, storedBytes: newestManifest.storedBytes };
    status.ageMs = Math.max(0, now.getTime() - Date.parse(newestManifest.consistentAt));
    status.verdict = status.ageMs <= intervalMs + graceMs ? "fresh" : "stale";
  }
  if (!configured && !newestManifest) {
    return { ...status, verdict: "not configured", ok: true };
  }
  if (status.verdict === "missing") status.problems.push(`${component}: no complete backup in the repository`);
  if (status.verdict === "stale") status.problems.push(`${component}: newest backup ${status.newest!.id} is ${formatDuration(status.ageMs!)} old, over its interval ${formatDuration(intervalMs)} + grace ${formatDuration(graceMs)}`);
  if (finished?.outcome === "failed") status.problems.push(`${component}: last attempt (started ${finished.startedAt} on ${finished.host}) failed: ${finished.reason ?? "no reason recorded"}`);
  if (lastAttempt?.outcome === "running" && now.getTime() - Date.parse(lastAttempt.startedAt) > intervalMs + graceMs) {
    status.problems.push(`${component}: an attempt started ${lastAttempt.startedAt} on ${lastAttempt.host} (pid ${lastAttempt.pid}) never finished: stalled or killed`);
    status.lastAttemptSucceeded = false;
  }
  status.ok = status.problems.length === 0;
  return status;
}
