import { statfs } from "node:fs/promises";
import { formatBytes } from "../config/index.ts";
import { DrError, messageOf } from "../errors/index.ts";
import { tempRoot } from "../lifecycle/index.ts";

/** errno codes that mean "this machine's disk refused the write", not "the backup is broken". */
const LOCAL_WRITE_CODES = new Set(["ENOSPC", "EDQUOT", "EFBIG", "EROFS"]);

/** The errno code of a local write failure anywhere in an error's cause chain, if it is one. */
export function localWriteCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && LOCAL_WRITE_CODES.has(code)) return code;
  }
  return undefined;
}

/** Bytes an unprivileged writer can still put in the file system holding `dir`, if it can be read. */
export async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const fs = await statfs(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}

/** The HINT every local-disk error ends with: where to free space, and where temporary files go. */
function diskHint(dir: string): string {
  return `free space in '${dir}' or restore somewhere else; the backup itself is fine. Temporary files (PostgreSQL dumps) go to TMPDIR, now '${tempRoot()}': point TMPDIR (or DR_TMPDIR) at a larger disk`;
}

/**
 * A write that failed on this machine's disk, said as such: a full disk must not read like a
 * broken backup. Names the folder, what was needed and what is free, and TMPDIR.
 */
export async function localWriteError(error: unknown, file: string, dir: string, neededBytes: number | undefined): Promise<DrError> {
  const code = localWriteCode(error) ?? "EIO";
  const free = await freeBytes(dir);
  const reason = code === "ENOSPC" ? "no space left on the local disk"
    : code === "EDQUOT" ? "the disk quota of this user is exhausted"
    : code === "EROFS" ? "the local file system is read-only"
    : messageOf(error);
  const sizes = [
    neededBytes !== undefined && neededBytes >= 0 ? `needs ${formatBytes(neededBytes)}` : undefined,
    free !== undefined ? `${formatBytes(free)} free` : undefined,
  ].filter(Boolean).join(", ");
  return new DrError("RESTORE_FAILED", `unable to write file '${file}': ${reason} (folder '${dir}'${sizes ? `: ${sizes}` : ""})`, {
    cause: error,
    hint: diskHint(dir),
  });
}

/** Refuse up front when the folder's file system cannot hold `neededBytes` (what `what` will write). */
export async function assertFreeSpace(dir: string, neededBytes: number, what: string): Promise<void> {
  const free = await freeBytes(dir);
  if (free === undefined || free >= neededBytes) return;
  throw new DrError("RESTORE_FAILED", `unable to restore ${what} into '${dir}': not enough space on the local disk (needs ${formatBytes(neededBytes)}, ${formatBytes(free)} free)`, {
    hint: diskHint(dir),
  });
}
