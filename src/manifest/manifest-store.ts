import { buffer } from "node:stream/consumers";
import type { ComponentName } from "../config/index.ts";
import { DrError, messageOf } from "../errors/index.ts";
import type { Storage } from "../storage/storage.ts";
import { sha256Hex } from "../streams/hash-stream.ts";
import type { BackupManifest } from "./backup-manifest.ts";
import { backupIdOfKey, componentPrefix, manifestKey, parseBackupId } from "./backup-id.ts";
import { findFutureDate, findManifestProblem } from "./manifest-checks.ts";

/**
 * Named states of what is found in storage (after pgBackRest's backupValid,
 * backupMissingManifest): only `complete` backups count as backups.
 *
 * - complete: the manifest is intact, belongs to its folder and is not dated in the future
 * - missingManifest: data without a manifest (a backup running, or one that died)
 * - unreadableManifest: the manifest cannot be read or is not a dr-drill manifest
 * - invalidManifest: a dr-drill manifest that cannot be this backup's (its digest does not
 *   match its bytes, it names parts outside its folder, its times contradict its id)
 * - futureDated: an intact manifest whose times lie ahead of this machine's clock; never
 *   the newest backup, never a reason for retention to delete another one
 */
export type BackupStatus = "complete" | "missingManifest" | "unreadableManifest" | "invalidManifest" | "futureDated";

/** One backup folder found in storage. */
export interface BackupEntry {
  id: string;
  component: ComponentName;
  /** Time of the backup's start, from its id. */
  date: Date;
  status: BackupStatus;
  /** The manifest, when it passed its checks (status complete or futureDated). */
  manifest: BackupManifest | undefined;
  /** Every key in the backup's folder (manifest included). */
  keys: string[];
  /** Bytes of those keys. */
  bytes: number;
  /** Why the backup is not complete (unreadable, invalid or future-dated manifest). */
  problem?: string;
}

/**
 * Object metadata holding the hex SHA-256 of the manifest's bytes. It binds the manifest's
 * content to the object it is stored as: a manifest replaced or edited afterwards (another
 * backup's manifest relabelled with this id) no longer matches it. It detects swaps and
 * corruption, not a forger who rewrites both: that needs Object Lock on the bucket.
 */
export const MANIFEST_DIGEST_METADATA = "dr-drill-manifest-sha256";

/**
 * Store a manifest: the last write of a backup, which makes it exist. Its SHA-256 goes
 * with it (metadata); a manifest that would be read back as invalid is refused, so a
 * backup never ends with a manifest no reader trusts.
 */
export async function writeManifest(storage: Storage, manifest: BackupManifest): Promise<void> {
  const problem = findManifestProblem(manifest, manifest.id);
  if (problem) {
    throw new DrError("BACKUP_FAILED", `unable to write manifest of backup '${manifest.id}': ${problem}`, {
      hint: "a consistent point minutes away from the backup's run means the database server's clock and this machine's differ: fix the clocks (NTP)",
    });
  }
  const body = `${JSON.stringify(manifest, null, 2)}\n`;
  const sha256 = sha256Hex(body);
  await storage.put(manifestKey(manifest.id), body, {
    contentType: "application/json",
    sha256,
    metadata: { "dr-drill-component": manifest.component, "dr-drill-finished-at": manifest.finishedAt, [MANIFEST_DIGEST_METADATA]: sha256 },
  });
}

/** Parse and sanity-check a manifest's JSON. */
export function parseManifest(json: string, id: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new DrError("INTEGRITY_FAILED", `unable to read manifest of backup '${id}': ${messageOf(error)}`);
  }
  const m = value as Partial<BackupManifest>;
  if (m.formatVersion !== 1 || m.id !== id || !Array.isArray(m.parts) || typeof m.finishedAt !== "string") {
    throw new DrError("INTEGRITY_FAILED", `unable to read manifest of backup '${id}': not a dr-drill manifest (format ${String(m.formatVersion)}, id ${String(m.id)})`);
  }
  return m as BackupManifest;
}

/** What reading a manifest found: the manifest, or why it is unreadable or invalid. */
type LoadedManifest =
  | { status: "ok"; manifest: BackupManifest }
  | { status: "unreadableManifest" | "invalidManifest"; problem: string };

/** Why a manifest's bytes do not match the digest stored with them, or undefined. */
function findDigestProblem(body: Buffer, stored: string | undefined): string | undefined {
  if (!stored) return `its object carries no SHA-256 (metadata '${MANIFEST_DIGEST_METADATA}'): it was not written by dr-drill's writeManifest`;
  const actual = sha256Hex(body);
  return actual === stored ? undefined : `its SHA-256 ${actual} is not the ${stored} recorded when it was written: it was altered or replaced`;
}

/** Read a manifest and judge it: readable, then its digest, then its fit to the folder. */
async function loadManifest(storage: Storage, id: string): Promise<LoadedManifest> {
  let manifest: BackupManifest;
  let digestProblem: string | undefined;
  try {
    const info = await storage.stat(manifestKey(id));
    const body = await buffer(await storage.get(manifestKey(id)));
    manifest = parseManifest(body.toString("utf8"), id);
    digestProblem = findDigestProblem(body, info?.metadata[MANIFEST_DIGEST_METADATA]);
  } catch (error) {
    return { status: "unreadableManifest", problem: messageOf(error) };
  }
  const problem = digestProblem ?? findManifestProblem(manifest, id);
  if (problem) return { status: "invalidManifest", problem: `unable to trust manifest of backup '${id}': ${problem}` };
  return { status: "ok", manifest };
}

/**
 * Read one backup's manifest; a missing one means the backup does not exist, and one that
 * fails its checks (digest, folder, times) is refused. A future-dated manifest is returned:
 * naming a backup is a deliberate choice, and verify reports its dates.
 */
export async function readManifest(storage: Storage, id: string): Promise<BackupManifest> {
  if (!parseBackupId(id)) {
    throw new DrError("BACKUP_NOT_FOUND", `unable to find backup '${id}': not a backup id`, {
      hint: "backup ids look like postgres-20261124T030026123Z; run 'dr-drill list' to see them",
      exitCode: 2,
    });
  }
  const info = await storage.stat(manifestKey(id));
  if (!info) {
    throw new DrError("BACKUP_NOT_FOUND", `unable to find backup '${id}': no manifest in ${storage.location}`, {
      hint: "run 'dr-drill list' to see the complete backups",
    });
  }
  const loaded = await loadManifest(storage, id);
  if (loaded.status === "ok") return loaded.manifest;
  if (loaded.status === "unreadableManifest") throw new DrError("INTEGRITY_FAILED", loaded.problem);
  throw new DrError("INTEGRITY_FAILED", loaded.problem, {
    hint: "do not restore from this backup; 'dr-drill list' shows every backup's status, pick a complete one",
  });
}

/** One backup folder as a listing shows it: its keys and their bytes, no manifest read. */
export interface BackupFolder {
  id: string;
  keys: string[];
  bytes: number;
}

/** A component's backup folders from one listing of its prefix, oldest first; nothing is read or judged. */
export async function listBackupFolders(storage: Storage, component: ComponentName): Promise<BackupFolder[]> {
  const byId = new Map<string, BackupFolder>();
  for await (const object of storage.list(componentPrefix(component))) {
    const id = backupIdOfKey(component, object.key);
    if (!id) continue;
    const entry = byId.get(id) ?? { id, keys: [], bytes: 0 };
    entry.keys.push(object.key);
    entry.bytes += object.size;
    byId.set(id, entry);
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Every backup folder of a component, oldest first, with its status judged at `now`. */
export async function listBackups(storage: Storage, component: ComponentName, now = new Date()): Promise<BackupEntry[]> {
  const entries: BackupEntry[] = [];
  for (const { id, keys, bytes } of await listBackupFolders(storage, component)) {
    const date = parseBackupId(id)!.date;
    const base = { id, component, date, keys, bytes };
    if (!keys.includes(manifestKey(id))) {
      entries.push({ ...base, status: "missingManifest", manifest: undefined });
      continue;
    }
    const loaded = await loadManifest(storage, id);
    if (loaded.status !== "ok") {
      entries.push({ ...base, status: loaded.status, manifest: undefined, problem: loaded.problem });
      continue;
    }
    const future = findFutureDate(loaded.manifest, now);
    if (future) entries.push({ ...base, status: "futureDated", manifest: loaded.manifest, problem: `backup '${id}' is ${future}` });
    else entries.push({ ...base, status: "complete", manifest: loaded.manifest });
  }
  return entries;
}

/** The complete backups of a component at `now`, oldest first (future-dated ones are not complete). */
export async function listCompleteBackups(storage: Storage, component: ComponentName, now = new Date()): Promise<BackupManifest[]> {
  return (await listBackups(storage, component, now)).filter((e) => e.status === "complete").map((e) => e.manifest!);
}

/**
 * The complete backups a logical restore can use, oldest first: every complete backup but
 * PostgreSQL's physical base backups (those restore with `restore --physical`, into a data
 * directory of their own). Redis and media backups are all of this kind.
 */
export async function listCompleteDumps(storage: Storage, component: ComponentName, now = new Date()): Promise<BackupManifest[]> {
  return (await listCompleteBackups(storage, component, now)).filter((m) => !m.physical);
}

/** The newest complete backup at `now`, or a clear error when there is none. */
export async function findLatestBackup(storage: Storage, component: ComponentName, now = new Date()): Promise<BackupManifest> {
  const entries = await listBackups(storage, component, now);
  const latest = entries.filter((e) => e.status === "complete").at(-1);
  if (!latest) {
    const setAside = entries.filter((e) => e.status === "futureDated" || e.status === "invalidManifest");
    const detail = setAside.length ? ` (set aside: ${setAside.map((e) => `${e.id} ${e.status}`).join(", ")})` : "";
    throw new DrError("BACKUP_NOT_FOUND", `unable to find latest ${component} backup in '${storage.location}': there are no complete backups${detail}`, {
      hint: setAside.length ? `'dr-drill list' shows why; run 'dr-drill backup ${component}' to take a good one` : `run 'dr-drill backup ${component}' first`,
    });
  }
  return latest.manifest!;
}
