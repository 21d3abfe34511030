import type { ComponentName } from "../config/index.ts";
import { COMPONENTS } from "../config/index.ts";

/**
 * Storage layout. Every backup lives under `<component>/<stamp>/`; its manifest is
 * `<component>/<stamp>/manifest.json` and is written last. Stamps sort by time.
 *
 *   postgres/20261124T030026123Z/deltacrown.dump[.age]
 *   postgres/20261124T030026123Z/manifest.json
 *   redis/20261124T030026123Z/dump.rdb[.age]
 *   media/snapshots/20261124T030026123Z/files.json[.age]  (+ manifest.json)
 *   media/objects/ab/abcdef...                              (content-addressed files)
 */

/** `20261124T030026123Z` from a Date: sortable, filename-safe, millisecond precision. */
export function formatStamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

/** The Date of a stamp, or undefined when it is not one. */
export function parseStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(stamp);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** `postgres-20261124T030026123Z`. */
export function makeBackupId(component: ComponentName, date: Date): string {
  return `${component}-${formatStamp(date)}`;
}

/** Split a backup id into component and stamp; undefined when malformed. */
export function parseBackupId(id: string): { component: ComponentName; stamp: string; date: Date } | undefined {
  const m = /^([a-z]+)-(\d{8}T\d{9}Z)$/.exec(id);
  if (!m || !COMPONENTS.includes(m[1] as ComponentName)) return undefined;
  const date = parseStamp(m[2]!);
  return date ? { component: m[1] as ComponentName, stamp: m[2]!, date } : undefined;
}

/** The folder (key prefix) of a backup's own objects. */
export function backupFolder(id: string): string {
  const parsed = parseBackupId(id);
  if (!parsed) throw new Error(`not a backup id: ${id}`);
  return parsed.component === "media" ? `media/snapshots/${parsed.stamp}/` : `${parsed.component}/${parsed.stamp}/`;
}

/** Where a component's backups are listed from. */
export function componentPrefix(component: ComponentName): string {
  return component === "media" ? "media/snapshots/" : `${component}/`;
}

/** The manifest key of a backup. */
export function manifestKey(id: string): string {
  return `${backupFolder(id)}manifest.json`;
}

/** The (encrypted) file list of a media snapshot: path, size and hash of every file. */
export function mediaFileListKey(id: string, encrypted: boolean): string {
  return `${backupFolder(id)}files.json${encrypted ? ".age" : ""}`;
}

/** The plain list of content keys a media snapshot refers to (read by retention). */
export function mediaRefsKey(id: string): string {
  return `${backupFolder(id)}refs.txt`;
}

/** Content-addressed key of a media file body. */
export function mediaObjectKey(sha256: string): string {
  return `media/objects/${sha256.slice(0, 2)}/${sha256}`;
}

/** The backup id a key under a component prefix belongs to (undefined for other keys). */
export function backupIdOfKey(component: ComponentName, key: string): string | undefined {
  const prefix = componentPrefix(component);
  if (!key.startsWith(prefix)) return undefined;
  const stamp = key.slice(prefix.length).split("/")[0] ?? "";
  return parseStamp(stamp) ? `${component}-${stamp}` : undefined;
}
