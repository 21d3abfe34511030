import { setFlagsFromString } from "node:v8";

/** The V8 flag, present from V8 13.6 (Node 24); an older V8 prints an error for a flag it does not know. */
const EXTERNAL_IN_GLOBAL_LIMIT = "--external-memory-accounted-in-global-limit";

/** Whether this V8 (`process.versions.v8`, e.g. "13.6.233.17-node.63") has the flag. */
export function hasExternalMemoryFlag(v8Version: string): boolean {
  const [major = 0, minor = 0] = v8Version.split(".").map(Number);
  return major > 13 || (major === 13 && minor >= 6);
}

/**
 * Count Buffers' memory toward V8's whole-heap limit instead of a 64 MiB soft limit of its
 * own, for a command that streams gigabytes through short-lived Buffers: a physical base
 * backup reads the 1 GB tar in 64 KiB chunks and makes as many again of compressed,
 * encrypted and part bytes, and each 64 MiB of them forced a full garbage collection of a
 * 20 MB heap (93 Mark-Compacts in one backup of a 1.1 GB cluster, `node --trace-gc`). With
 * the flag that command's own CPU fell from 7.2-7.7 s to 5.0-5.9 s and its time from
 * 11.6-12.8 s to 10.9-11.9 s (three runs each, taken in turns, on 2 cores shared with the
 * S3 endpoint and zstd); the price is a higher peak RSS, 301-307 MiB against 222-230 MiB,
 * which is why only that command asks for it and the pg_dump backups (held under 256 MiB)
 * do not. Set at run time (node:v8), so `node bin/dr-drill.js` needs no extra options.
 */
export function relaxExternalMemoryGc(v8Version = process.versions.v8): void {
  if (hasExternalMemoryFlag(v8Version)) setFlagsFromString(EXTERNAL_IN_GLOBAL_LIMIT);
}
