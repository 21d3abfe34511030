import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { decryptStream } from "../../crypto/age.ts";
import { DrError, isDrError, messageOf, unable } from "../../errors/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { HashingStream } from "../../streams/hash-stream.ts";
import { WAL_METADATA } from "./wal-push.ts";
import { parseWalFileName, walKey } from "./wal-names.ts";

/**
 * Exit codes of `wal fetch` (restore_command). PostgreSQL takes any exit code from 1 to 125
 * for "this file is not in the archive", which ends recovery at that point; 126 and above
 * (and a signal) make it abort recovery instead. So "not found" is 1 and every other
 * failure (storage down, wrong key, corrupt object) is 126: a network error stops the
 * server, to be restarted once the repository answers, instead of silently ending WAL early.
 */
export const WAL_FETCH_NOT_FOUND = 1;
export const WAL_FETCH_FAILED = 126;

export interface WalFetchOptions {
  storage: Storage;
  identities: readonly string[];
  /** The WAL file PostgreSQL asks for (%f). */
  name: string;
  /** Where to write it (%p); written whole to a temporary name first, then renamed. */
  destination: string;
  /** Read the object stored under this name instead (a `.partial` served as its segment). */
  storedName?: string;
  /**
   * fsync the file before it is renamed into place (default). A physical restore turns it
   * off: it flushes the whole data directory itself (flushWhile), and an fsync per WAL file
   * while tar unpacks the base made the file system commit tar's writes with it: 4 segments
   * took 2.4-2.7 s to land, all at the same moment, and slowed the unpack.
   */
  sync?: boolean;
  signal?: AbortSignal;
}

/** What a fetch wrote. */
export interface WalFetchResult {
  name: string;
  key: string;
  plainSize: number;
  storedSize: number;
}

/** A failure that must not read as "not found": exit code WAL_FETCH_FAILED, keeping the cause's code. */
function fetchFailure(name: string, error: unknown): DrError {
  if (isDrError(error)) {
    return new DrError(error.code, error.message, { hint: error.hint, cause: error.cause ?? error, exitCode: WAL_FETCH_FAILED });
  }
  return new DrError("RESTORE_FAILED", unable("fetch WAL file", name, messageOf(error)), { cause: error, exitCode: WAL_FETCH_FAILED });
}

/**
 * Fetch one WAL file from the archive into `destination`: stored SHA-256 checked, age
 * payload authenticated and decrypted, plain SHA-256 and size checked against the object's
 * metadata, then written to a temporary file beside the destination, synced and renamed,
 * so PostgreSQL never sees a partial file. An absent object is WAL_MISSING with exit code 1;
 * every other failure has exit code WAL_FETCH_FAILED (see above).
 */
export async function fetchWalFile(options: WalFetchOptions): Promise<WalFetchResult> {
  const stored = options.storedName ?? options.name;
  if (!parseWalFileName(stored)) {
    throw new DrError("CONFIG_INVALID", unable("fetch WAL file", stored, "not a WAL segment, .partial, .history or .backup file name"), {
      hint: "restore_command passes %f %p: restore_command = 'dr-drill wal fetch %f %p'",
      exitCode: WAL_FETCH_FAILED,
    });
  }
  const key = walKey(stored);
  const temporary = join(dirname(options.destination), `.${stored}.${randomBytes(4).toString("hex")}.dr-drill-tmp`);
  try {
    const info = await options.storage.stat(key);
    if (!info) {
      throw new DrError("WAL_MISSING", unable("fetch WAL file", stored, `'${key}' is not in ${options.storage.location}`), { exitCode: WAL_FETCH_NOT_FOUND });
    }
    if (options.identities.length === 0) {
      throw new DrError("CONFIG_MISSING", unable("decrypt WAL file", stored, "no age identity is configured"), {
        hint: "set DR_AGE_IDENTITY_FILE to the age secret key file (age-keygen -o FILE)",
      });
    }
    const expectedStored = info.metadata[WAL_METADATA.storedSha256];
    const expectedPlain = info.metadata[WAL_METADATA.plainSha256];
    const storedHash = new HashingStream();
    const plainHash = new HashingStream();
    // The file first: nothing may await between starting the decryption and consuming it,
    // or a wrong key's error would reach a stream nobody listens to yet (an uncaught error).
    const file = await open(temporary, "wx", 0o600);
    try {
      const body = await options.storage.get(key, { signal: options.signal });
      body.on("error", (error) => storedHash.destroy(error));
      const plain = await decryptStream(body.pipe(storedHash), options.identities, `wal/${stored}`);
      plain.on("error", (error) => plainHash.destroy(error));
      for await (const chunk of plain.pipe(plainHash)) await file.write(chunk as Buffer);
      if (options.sync !== false) await file.sync();
    } finally {
      await file.close();
    }
    const corrupt = (what: string, expected: string, actual: string) =>
      new DrError("INTEGRITY_FAILED", unable("fetch WAL file", stored, `${what} mismatch on '${key}': expected ${expected}, got ${actual}`), {
        hint: "the stored object is corrupt or was replaced; this WAL file cannot be used",
      });
    if (info.size !== storedHash.bytes) throw corrupt("size", String(info.size), String(storedHash.bytes));
    if (expectedStored !== undefined && expectedStored !== storedHash.digest()) throw corrupt("SHA-256", expectedStored, storedHash.digest());
    if (expectedPlain === undefined) throw corrupt("plain SHA-256", "a recorded hash", "none in the object's metadata");
    if (expectedPlain !== plainHash.digest()) throw corrupt("plain SHA-256", expectedPlain, plainHash.digest());
    await rename(temporary, options.destination);
    return { name: options.name, key, plainSize: plainHash.bytes, storedSize: storedHash.bytes };
  } catch (error) {
    await rm(temporary, { force: true });
    if (isDrError(error, "WAL_MISSING")) throw error;
    throw fetchFailure(stored, error);
  }
}
