import { open, rm, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { finished, pipeline } from "node:stream/promises";
import type { Readable, Writable } from "node:stream";
import { decryptStream } from "../crypto/age.ts";
import { DrError, messageOf } from "../errors/index.ts";
import type { BackupManifest, StoredPart } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { HashingStream, hashStream } from "../streams/hash-stream.ts";
import { childFdOf, fileChildInput } from "../streams/child-input.ts";
import { childStdinFd } from "../exec/index.ts";
import { findAge, startAgeDecrypt } from "./age-child.ts";
import { bytesOfFailure, findCurl, startCurlGet } from "./curl-child.ts";
import { brokenPipe, localWriteCode, localWriteError } from "./local-disk.ts";

export interface DownloadOptions {
  storage: Storage;
  part: StoredPart;
  /** Backup id, for messages. */
  backupId: string;
  /** age identities; required when the part is encrypted. */
  identities: readonly string[];
  encrypted: boolean;
  /**
   * Check the stored bytes' size and SHA-256 (default). Media content objects are shared
   * between snapshots and only their plain SHA-256 is recorded, which age's authenticated
   * encryption plus the plain hash cover.
   */
  checkStored?: boolean;
  /**
   * A restore: when the sink names a descriptor (withChildFd: zstd's or tar's stdin, the
   * restored file) and the stock `age` is installed, age decrypts straight into it
   * (decryptInChild). Verifies leave it unset: they hash the plain bytes.
   */
  decryptInChild?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** A backup to read from: where it is, what it is, and the keys to open it. */
export interface BackupSource {
  storage: Storage;
  manifest: BackupManifest;
  identities: readonly string[];
  signal?: AbortSignal;
  /** Stored bytes downloaded so far, for a progress display (a single-part backup's total is its part size). */
  onProgress?: (bytes: number) => void;
}

/** Download options for one part of a backup (its first part by default). */
export function partOf(source: BackupSource, part: StoredPart | undefined = source.manifest.parts[0]): DownloadOptions {
  if (!part) throw new DrError("INTEGRITY_FAILED", `unable to read backup '${source.manifest.id}': its manifest lists no parts`);
  return {
    storage: source.storage,
    part,
    backupId: source.manifest.id,
    identities: source.identities,
    encrypted: source.manifest.encryption.format === "age",
    signal: source.signal,
    onProgress: source.onProgress,
  };
}

/** The stored and plain byte counts and hashes a download saw. */
export interface DownloadResult {
  storedBytes: number;
  plainBytes: number;
}

function mismatch(options: DownloadOptions, what: string, expected: string, actual: string): DrError {
  return new DrError("INTEGRITY_FAILED", `unable to verify backup '${options.backupId}': ${what} mismatch on '${options.part.key}': expected ${expected}, got ${actual}`, {
    hint: "the stored object is corrupt or was replaced; restore from another backup (dr-drill list)",
  });
}

/**
 * Throw the story of a failed download: the local side's failure (disk full, quota, the
 * reading process gone: not the backup's fault, so no second download; a writer that broke
 * its pipe because its reader failed first tells the reader's failure), else a corrupt
 * object named by its hash mismatch (a second download), else the error itself.
 */
async function failed(options: DownloadOptions, error: unknown, sinkError: unknown): Promise<never> {
  const local = brokenPipe(error) && sinkError ? sinkError : (sinkError ?? error);
  if (localWriteCode(local) || brokenPipe(local)) throw local;
  const corrupt = options.checkStored === false ? undefined : await checkStoredHash(options);
  if (corrupt) throw corrupt;
  if (error instanceof DrError) throw error;
  throw new DrError("INTEGRITY_FAILED", `unable to read backup '${options.backupId}' part '${options.part.key}': ${messageOf(error)}`, { cause: error });
}

/** Hash the stored object again (a second download) to tell corruption from other faults. */
async function checkStoredHash(options: DownloadOptions): Promise<DrError | undefined> {
  try {
    const { sha256, size } = await hashStream(await options.storage.get(options.part.key, { signal: options.signal }));
    if (size !== options.part.size) return mismatch(options, "size", String(options.part.size), String(size));
    if (sha256 !== options.part.sha256) return mismatch(options, "SHA-256", options.part.sha256, sha256);
  } catch {
    // The original error is the better report.
  }
  return undefined;
}

/**
 * The stored bytes into the stock `age -d`, which writes the plain bytes into the sink's
 * descriptor itself; then the sink is ended (nothing written to it here) and awaited. age's
 * failure is the better report than the broken pipe its stdin then shows, so it wins.
 */
async function decryptInChild(options: DownloadOptions, age: string, storedSide: Readable, sink: Writable, fd: number): Promise<void> {
  const child = startAgeDecrypt(age, options.identities, fd, options.backupId, options.signal);
  const [fed, exited] = await Promise.allSettled([pipeline(storedSide, child.stdin, { signal: options.signal }), child.exited]);
  if (exited.status === "rejected" || fed.status === "rejected") {
    child.stop();
    throw exited.status === "rejected" ? exited.reason : (fed as PromiseRejectedResult).reason;
  }
  sink.end();
  await finished(sink);
}

/**
 * The stored bytes fetched by the stock curl straight into the stock age's stdin (a signed
 * GET the storage made), age decrypting into the sink's descriptor: neither the stored nor
 * the plain bytes pass through this process, whose CPU the pipeline needs on a 2-core host
 * (a 1.1 GB cluster's base backup unpacked in 4.1-4.6 s against 4.5-5.3 s with the download
 * and the stored hash here, 4 interleaved rounds). The stored SHA-256 is then not recomputed;
 * what is checked: the stored size, age's authentication of every chunk and of the end of
 * the stream (a damaged, cut or extended object fails, and the caller then hashes it again
 * to name it), zstd's frame checksums; `dr-drill verify` recomputes both hashes.
 * Resolves with the stored bytes, or undefined when there is no curl, no signed request,
 * or curl delivered nothing (refused, unreachable, a CA only this process trusts): the
 * caller then downloads through get(), which retries and explains.
 */
async function curlIntoAge(options: DownloadOptions, age: string, fd: number): Promise<number | undefined> {
  const curl = findCurl();
  const request = curl ? await options.storage.signedGet?.(options.part.key) : undefined;
  if (!curl || !request) return undefined;
  const child = startAgeDecrypt(age, options.identities, fd, options.backupId, options.signal);
  // Settled from the start: age may fail (a wrong key) long before curl is done.
  const ageFailure = child.exited.then(() => undefined, (error: unknown) => error ?? new Error("age failed"));
  const get = startCurlGet(curl, request, childStdinFd(child.stdin), { signal: options.signal, onProgress: options.onProgress });
  const fetched = await get.exited.then((outcome) => ({ outcome }), (error: unknown) => ({ error }));
  // curl held a copy of this process's end of age's stdin; ending it lets age see the end of its input.
  child.stdin.end();
  const decrypted = await ageFailure;
  if ("error" in fetched) {
    if (bytesOfFailure(fetched.error) === 0) return undefined;
    throw decrypted ?? fetched.error;
  }
  if (decrypted) throw decrypted;
  return fetched.outcome.bytes;
}

/**
 * Stream one stored part into `sink`: download -> SHA-256 of stored bytes -> age decrypt ->
 * SHA-256 of plain bytes. Both hashes and sizes must match the manifest. When anything
 * fails, the stored object is hashed again so a corrupt object is reported as a SHA-256
 * mismatch naming its key (even when decryption tripped on it first), and a wrong key as such.
 *
 * With `decryptInChild` and a sink that names a descriptor, the stock `age -d` decrypts in
 * its own process into that descriptor (zstd's stdin, the restored file), and this process
 * only downloads and hashes the stored bytes: the base backup of a 1.1 GB cluster (379 MB
 * stored) unpacked in 4.17-4.64 s against 4.60-5.04 s with the decryption and the plain hash
 * here, this process's CPU 1.5-2.0 s against 2.6-3.3 s, 5 interleaved rounds. The plain
 * bytes are then not hashed (they never pass through here); they are still checked:
 * the stored bytes match the manifest's size and SHA-256, age authenticates every 64 KiB
 * chunk and the end of the stream (a cut or altered file fails), so the plain bytes are
 * exactly the ones encrypted at backup time, and zstd checks each frame's checksum.
 * `dr-drill verify` hashes the plain bytes as well. plainBytes is then the manifest's.
 */
export async function downloadPart(options: DownloadOptions, sink: Writable): Promise<DownloadResult> {
  if (options.encrypted && options.identities.length === 0) {
    throw new DrError("CONFIG_MISSING", `unable to decrypt backup '${options.backupId}': it is encrypted and no identity is configured`, {
      hint: "set DR_AGE_IDENTITY_FILE to the age secret key file (age-keygen -o FILE)",
    });
  }
  const fd = options.decryptInChild && options.encrypted && options.checkStored !== false ? childFdOf(sink) : undefined;
  const age = fd === undefined ? undefined : findAge();
  const stored = new HashingStream(options.onProgress);
  const plain = age ? undefined : new HashingStream();
  let body: Readable | undefined;
  let sinkError: unknown;
  sink.once("error", (error) => {
    sinkError ??= error;
  });
  let curled: number | undefined;
  try {
    curled = age ? await curlIntoAge(options, age, fd!) : undefined;
    if (curled !== undefined) {
      sink.end();
      await finished(sink);
    }
  } catch (error) {
    sink.destroy();
    await failed(options, error, sinkError);
  }
  if (curled !== undefined) {
    if (curled !== options.part.size) throw mismatch(options, "size", String(options.part.size), String(curled));
    return { storedBytes: curled, plainBytes: options.part.plainSize };
  }
  try {
    body = await options.storage.get(options.part.key, { signal: options.signal });
    const storedSide = body.pipe(stored);
    body.on("error", (error) => stored.destroy(error));
    if (age) {
      await decryptInChild(options, age, storedSide, sink, fd!);
    } else {
      const decrypted: Readable = options.encrypted ? await decryptStream(storedSide, options.identities, options.backupId) : storedSide;
      await pipeline(decrypted, plain!, sink, { signal: options.signal });
    }
  } catch (error) {
    // Release the connection: an abandoned response body holds its socket, and enough of
    // them starve the client's pool (every later request would wait forever).
    body?.destroy();
    stored.destroy();
    sink.destroy();
    await failed(options, error, sinkError);
  }
  if (options.checkStored !== false) {
    if (stored.bytes !== options.part.size) throw mismatch(options, "size", String(options.part.size), String(stored.bytes));
    if (stored.digest() !== options.part.sha256) throw mismatch(options, "SHA-256", options.part.sha256, stored.digest());
  }
  if (!plain) return { storedBytes: stored.bytes, plainBytes: options.part.plainSize };
  if (plain.digest() !== options.part.plainSha256) throw mismatch(options, "plain SHA-256", options.part.plainSha256, plain.digest());
  return { storedBytes: stored.bytes, plainBytes: plain.bytes };
}

/** Create `path` for writing, never over an existing file; a failure says which file and why. */
async function createNewFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, "wx", 0o600);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EEXIST") {
      throw new DrError("RESTORE_REFUSED", `unable to write file '${path}': it already exists`, {
        hint: "move it away or restore somewhere else; dr-drill never overwrites files",
        exitCode: 2,
      });
    }
    if (localWriteCode(error)) throw await localWriteError(error, path, dirname(path), undefined);
    throw new DrError("RESTORE_FAILED", `unable to write file '${path}': ${messageOf(error)}`, { cause: error });
  }
}

/**
 * The temp file's write buffer: age hands out 64 KiB chunks, and a 4 MiB buffer lets the
 * write stream gather them into few large writev calls while the disk is busy, instead of
 * one write per chunk.
 */
export const FILE_WRITE_BUFFER = 4 * 1024 * 1024;

/**
 * Download and decrypt a part into a new file (restores that need a seekable file). The
 * file must not exist (never overwritten); on failure it is removed, so nothing partial is
 * left, and a full local disk is reported as such, naming the folder and the sizes.
 * `decode` makes the writer of the plain (hashed) bytes into the open file, e.g. a
 * decompressor that writes it (given the write buffer size to use); this function closes it.
 */
export async function downloadPartToFile(options: DownloadOptions, path: string, extra: { decode?: (file: FileHandle, highWaterMark: number) => Writable } = {}): Promise<DownloadResult> {
  const handle = await createNewFile(path);
  try {
    // A plain file can be written by the stock age itself (decryptInChild).
    const sink = extra.decode ? extra.decode(handle, FILE_WRITE_BUFFER) : fileChildInput(handle, FILE_WRITE_BUFFER);
    const result = await downloadPart(options, sink);
    await handle.close();
    return result;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    if (localWriteCode(error)) throw await localWriteError(error, path, dirname(path), options.part.plainSize);
    throw error;
  }
}
