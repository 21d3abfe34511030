import { mkdir, rmdir, stat } from "node:fs/promises";
import { dirname, relative, sep } from "node:path";
import { DrError, isDrError, messageOf } from "../errors/index.ts";

/** The error for `--into` naming something that is not a folder. */
function notAFolder(what: string, dir: string): DrError {
  return new DrError("RESTORE_REFUSED", `unable to restore ${what} into '${dir}': it is a file, not a folder`, {
    hint: "give --into a folder (new or empty); dr-drill never overwrites files",
    exitCode: 2,
  });
}

/**
 * Make sure `dir` is a folder, creating it (and missing parents) when absent. Returns the
 * topmost folder this call created, if any, so a failed restore can remove exactly those.
 */
export async function ensureRestoreFolder(dir: string, what: string): Promise<string | undefined> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw notAFolder(what, dir);
  if (existing) return undefined;
  try {
    return await mkdir(dir, { recursive: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EEXIST" || code === "ENOTDIR") throw notAFolder(what, dir);
    throw new DrError("RESTORE_FAILED", `unable to restore ${what} into '${dir}': cannot create the folder: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Remove the folders a failed restore created (from `dir` up to `created`), only while they
 * are empty: what someone else put there meanwhile stays. Returns what was removed.
 */
export async function removeCreatedFolders(created: string | undefined, dir: string): Promise<string[]> {
  if (!created) return [];
  const rel = relative(created, dir);
  if (rel.startsWith("..")) return [];
  const removed: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    try {
      await rmdir(current);
      removed.push(current);
    } catch {
      break;
    }
    if (current === created || !current.startsWith(created + sep)) break;
  }
  return removed;
}

/**
 * The error of a failed restore with a line saying what it left behind, so the user knows
 * the retry will find the target as it was (or what to remove by hand).
 */
export function withLeftBehind(error: unknown, what: string, dir: string, note: string): DrError {
  if (isDrError(error)) {
    return new DrError(error.code, `${error.message}\n${note}`, { cause: error, hint: error.hint, exitCode: error.exitCode });
  }
  return new DrError("RESTORE_FAILED", `unable to restore ${what} into '${dir}': ${messageOf(error)}\n${note}`, { cause: error });
}
