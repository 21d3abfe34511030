import { formatDuration } from "../config/index.ts";
import type { BackupManifest } from "./backup-manifest.ts";
import { backupFolder, parseBackupId } from "./backup-id.ts";

/**
 * How far a time may stray from where it should be before it counts as wrong: clocks of
 * the servers (PostgreSQL's snapshot time, Redis's LASTSAVE) and of the hosts that write
 * and read backups differ by a little, never by minutes when NTP works.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Milliseconds of an ISO time, or NaN when it is not one. */
function timeOf(value: unknown): number {
  return typeof value === "string" ? Date.parse(value) : Number.NaN;
}

/**
 * Why a parsed manifest cannot be the backup `id` names, or undefined when it can. The id
 * is the folder's: the manifest must carry it, be of its component, start at its stamp
 * (ids are made from the start time), have consistent times, and list only parts inside
 * that folder (a manifest copied from another backup points into the other's folder).
 * Pure; the digest that binds the manifest's bytes is checked by the store.
 */
export function findManifestProblem(manifest: BackupManifest, id: string): string | undefined {
  const parsed = parseBackupId(id);
  if (!parsed) return `'${id}' is not a backup id`;
  if (manifest.id !== id) return `it names backup '${String(manifest.id)}', not '${id}'`;
  if (manifest.component !== parsed.component) return `it is a ${String(manifest.component)} manifest in a ${parsed.component} folder`;
  const started = timeOf(manifest.startedAt);
  const finished = timeOf(manifest.finishedAt);
  const consistent = timeOf(manifest.consistentAt);
  for (const [name, value] of [["startedAt", started], ["finishedAt", finished], ["consistentAt", consistent]] as const) {
    if (Number.isNaN(value)) return `its ${name} is not a time`;
  }
  if (started !== parsed.date.getTime()) return `it started at ${manifest.startedAt}, but its id says ${parsed.date.toISOString()}`;
  if (finished < started) return `it finished (${manifest.finishedAt}) before it started (${manifest.startedAt})`;
  if (consistent < started - CLOCK_SKEW_MS || consistent > finished + CLOCK_SKEW_MS) {
    return `its consistent point ${manifest.consistentAt} lies outside its run (${manifest.startedAt} to ${manifest.finishedAt}) by more than ${CLOCK_SKEW_MS / 60_000} minutes of clock skew`;
  }
  if (!Array.isArray(manifest.parts) || manifest.parts.length === 0) return "it lists no parts";
  const folder = backupFolder(id);
  for (const part of manifest.parts) {
    if (typeof part?.key !== "string" || !part.key.startsWith(folder)) return `its part '${String(part?.key)}' lies outside the backup's folder '${folder}'`;
    if (typeof part.size !== "number" || typeof part.sha256 !== "string") return `its part '${part.key}' has no stored size and SHA-256`;
  }
  return undefined;
}

/**
 * Why a backup is dated in the future at `now` (a clock that jumped ahead, or a forged
 * manifest), or undefined. Such a backup must not count as the newest: it would hide the
 * real newest one from restores and make retention delete it.
 */
export function findFutureDate(manifest: Pick<BackupManifest, "startedAt" | "finishedAt" | "consistentAt">, now: Date): string | undefined {
  const times = [["started", manifest.startedAt], ["finished", manifest.finishedAt], ["consistent at", manifest.consistentAt]] as const;
  const [name, value] = times.reduce((latest, time) => (Date.parse(time[1]) > Date.parse(latest[1]) ? time : latest));
  const ahead = Date.parse(value) - now.getTime();
  if (!(ahead > CLOCK_SKEW_MS)) return undefined;
  return `dated in the future: ${name} ${value}, ${formatDuration(ahead)} after this machine's clock (${now.toISOString()})`;
}
