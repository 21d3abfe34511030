import { text } from "node:stream/consumers";
import type { ComponentName } from "../config/index.ts";
import { DrError, messageOf } from "../errors/index.ts";
import type { Storage } from "../storage/storage.ts";
import type { BackupManifest } from "./backup-manifest.ts";
import { backupIdOfKey, componentPrefix, manifestKey, parseBackupId } from "./backup-id.ts";

/**
 * Named states of what is found in storage (after pgBackRest's backupValid,
 * backupMissingManifest): only `complete` backups count as backups.
 */
export type BackupStatus = "complete" | "missingManifest" | "unreadableManifest";

/** One backup folder found in storage. */
export interface BackupEntry {
  id: string;
  component: ComponentName;
  /** Time of the backup's start, from its id. */
  date: Date;
  status: BackupStatus;
  /** The manifest, when status is complete. */
  manifest: BackupManifest | undefined;
  /** Every key in the backup's folder (manifest included). */
  keys: string[];
  /** Bytes of those keys. */
  bytes: number;
  /** Why the manifest could not be read, for unreadableManifest. */
  problem?: string;
}

/** Store a manifest: the last write of a backup, which makes it exist. */
export async function writeManifest(storage: Storage, manifest: BackupManifest): Promise<void> {
  await storage.put(manifestKey(manifest.id), `${JSON.stringify(manifest, null, 2)}\n`, {
    contentType: "application/json",
    metadata: { "dr-drill-component": manifest.component, "dr-drill-finished-at": manifest.finishedAt },
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

/** Read one backup's manifest; a missing one means the backup does not exist. */
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
  return parseManifest(await text(await storage.get(manifestKey(id))), id);
}

/** Every backup folder of a component, oldest first, with its status. */
export async function listBackups(storage: Storage, component: ComponentName): Promise<BackupEntry[]> {
  const byId = new Map<string, { keys: string[]; bytes: number }>();
  for await (const object of storage.list(componentPrefix(component))) {
    const id = backupIdOfKey(component, object.key);
    if (!id) continue;
    const entry = byId.get(id) ?? { keys: [], bytes: 0 };
    entry.keys.push(object.key);
    entry.bytes += object.size;
    byId.set(id, entry);
  }
  const entries: BackupEntry[] = [];
  for (const [id, { keys, bytes }] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
    const date = parseBackupId(id)!.date;
    const base = { id, component, date, keys, bytes };
    if (!keys.includes(manifestKey(id))) {
      entries.push({ ...base, status: "missingManifest", manifest: undefined });
      continue;
    }
    try {
      entries.push({ ...base, status: "complete", manifest: await readManifest(storage, id) });
    } catch (error) {
      entries.push({ ...base, status: "unreadableManifest", manifest: undefined, problem: messageOf(error) });
    }
  }
  return entries;
}

/** The complete backups of a component, oldest first. */
export async function listCompleteBackups(storage: Storage, component: ComponentName): Promise<BackupManifest[]> {
  return (await listBackups(storage, component)).filter((e) => e.status === "complete").map((e) => e.manifest!);
}

/** The newest complete backup, or a clear error when there is none. */
export async function findLatestBackup(storage: Storage, component: ComponentName): Promise<BackupManifest> {
  const complete = await listCompleteBackups(storage, component);
  const latest = complete.at(-1);
  if (!latest) {
    throw new DrError("BACKUP_NOT_FOUND", `unable to find latest ${component} backup in '${storage.location}': there are no complete backups`, {
      hint: `run 'dr-drill backup ${component}' first`,
    });
  }
  return latest;
}
