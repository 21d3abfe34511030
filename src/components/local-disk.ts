import { statfs } from "node:fs/promises";
import { formatBytes } from "../config/index.ts";
import { DrError, messageOf } from "../errors/index.ts";
import { runCommand, startCommand } from "../exec/index.ts";
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

/**
 * The reader of a pipe went away: EPIPE, or ECONNRESET on the socket pair Node gives a child
 * as its stdin, on the error itself (a write to a child's stdin, or a zstd child reporting
 * one): a child process that stopped reading, whose own exit tells why. Only the error's own
 * code counts: a storage error caused by a reset connection to S3 is no broken pipe.
 */
export function brokenPipe(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "EPIPE" || code === "ECONNRESET";
}

/** errno codes of a write failure as a child (zstd, age) reports it on stderr (strerror text, any case), so a full disk reads as one. */
const WRITE_ERRORS: readonly [RegExp, string][] = [
  [/No space left on device/i, "ENOSPC"],
  [/Disk quota exceeded/i, "EDQUOT"],
  [/File too large/i, "EFBIG"],
  [/Read-only file system/i, "EROFS"],
  // The reader of its output (tar) went away first: that reader's failure is the story.
  [/Broken pipe/i, "EPIPE"],
  [/Connection reset by peer/i, "ECONNRESET"],
];

/**
 * The errno code of a child's failed write, read from how it ended: killed by SIGPIPE (the
 * reader of its output went away first, as for "Broken pipe") or the strerror text on its stderr.
 */
export function childWriteErrorCode(result: { signal?: string }, stderr: string): string | undefined {
  return result.signal === "SIGPIPE" ? "EPIPE" : WRITE_ERRORS.find(([text]) => text.test(stderr))?.[1];
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

const FLUSH_TIMEOUT_MS = 30 * 60_000;
const FLUSH_LOOP_TIMEOUT_MS = 12 * 3_600_000;

/** Write every dirty page of the file system holding `dir` to disk (`sync -f`, syncfs(2)); a failure names the folder. */
export async function flushFileSystem(dir: string, signal?: AbortSignal): Promise<void> {
  try {
    await runCommand("sync", ["-f", dir], { timeoutMs: FLUSH_TIMEOUT_MS, signal });
  } catch (error) {
    throw new DrError("RESTORE_FAILED", `unable to flush the restored files in '${dir}' to disk: ${messageOf(error)}`, { cause: error, hint: diskHint(dir) });
  }
}

/**
 * `sync -f DIR` over and over with a pause between, until killed: one long-lived `sh` (the
 * folder is its first argument, never part of the script), because every child this process
 * starts while it streams hundreds of MB costs it dearly: after each fork its memory is
 * copy-on-write until touched again (a `sync -f` started from here every half second made a
 * 1.1 GB physical restore take 13-18 s instead of 8-10 s; the same loop in a shell beside it cost nothing).
 * The pause holds none of the shell's descriptors: SIGTERM ends the shell at once, and the
 * `sleep` left for the rest of its half second must not keep open the stderr pipe this
 * process reads until it ends (stopping the loop then waited for the pause: up to 0.5 s
 * added to every restore).
 */
const FLUSH_LOOP = 'while sync -f "$1"; do sleep 0.5 </dev/null >/dev/null 2>&1; done';

/**
 * Run `work`, which writes many files under `dir`, while the file system holding `dir` is
 * flushed over and over (FLUSH_LOOP); the loop is stopped when the work settles. Most disk
 * writes then overlap the work instead of all coming after it, and the caller's final
 * flushFileSystem (what makes the result durable) has little left to write.
 * Files written by `tar -x` stay dirty in the page cache (1.1 GB here, under the kernel's
 * background threshold) until someone syncs them, and PostgreSQL does at start-up after a
 * restore: 1.1-1.5 s of its start on a 1.1 GB cluster went to that flush, 0.1 s after a
 * restore that flushed as it went.
 */
export async function flushWhile<T>(dir: string, work: Promise<T>, signal?: AbortSignal): Promise<T> {
  // Bounded like the work it runs beside (a 10 GB restore's unpack takes long); stopped when that settles.
  const loop = startCommand("sh", ["-c", FLUSH_LOOP, "dr-drill-flush", dir], { stdout: "ignore", timeoutMs: FLUSH_LOOP_TIMEOUT_MS, signal });
  const stopped = loop.then(() => undefined, () => undefined);
  try {
    return await work;
  } finally {
    loop.kill("SIGTERM");
    await stopped;
  }
}
