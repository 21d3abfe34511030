import { pipeline } from "node:stream";
import type { Readable } from "node:stream";
import { encryptBuffer, encryptStream } from "../crypto/age.ts";
import type { StoredPart } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { DrError } from "../errors/index.ts";
import { HashingStream, sha256Hex } from "../streams/hash-stream.ts";
import { StallWatchdog } from "../streams/stall-watchdog.ts";

/**
 * Default bound on an upload making no progress, ms. Longer than one part request may take
 * (the S3 client's 120 s request timeout), so a slow but live link never trips it: some
 * part completes and reading resumes within that time, unless the endpoint is dead.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 150_000;

export interface UploadPartOptions {
  storage: Storage;
  key: string;
  source: Readable;
  /** age recipients; empty stores plaintext (the caller decides whether that is allowed). */
  recipients: readonly string[];
  metadata?: Record<string, string>;
  contentType?: string;
  signal?: AbortSignal;
  /** Stored bytes sent so far. */
  onProgress?: (bytes: number) => void;
  /** Fail when no byte reaches storage and no part completes for this long, ms (default DEFAULT_STALL_TIMEOUT_MS; 0 turns it off). */
  stallTimeoutMs?: number;
  /**
   * Called once, at the moment a stall is detected, before the upload has finished
   * aborting: the producer (pg_dump, its snapshot transaction) is stopped now, not when a
   * dead endpoint's requests time out.
   */
  onStall?: (error: UploadStalledError) => void;
}

/** An upload that made no progress for the watchdog's bound. */
export class UploadStalledError extends DrError {
  /** Where the upload went (location + key). */
  readonly where: string;
  /** How long nothing progressed, ms. */
  readonly idleMs: number;

  constructor(where: string, idleMs: number) {
    super("BACKUP_FAILED", `unable to store object '${where}': ${describeStall(idleMs)}`, {
      hint: "check the S3 endpoint is up and answering; on a link this slow, raise the stall bound",
    });
    this.where = where;
    this.idleMs = idleMs;
  }
}

/** "no progress for N s (...)": the reason every stalled-upload message gives. */
export function describeStall(idleMs: number): string {
  const idle = idleMs < 1_000 ? `${Math.round(idleMs)} ms` : `${Math.round(idleMs / 1000)} s`;
  return `no progress for ${idle} (no byte reached storage and no part completed)`;
}

/**
 * Stream one object into storage: plain SHA-256 -> age encryption -> stored SHA-256 ->
 * multipart upload, with nothing written to disk and nothing held whole in memory. An
 * error anywhere (source, encryption, upload) rejects and leaves no object behind.
 * A stall watchdog aborts the upload when nothing progresses for stallTimeoutMs: the
 * promise rejects with "no progress for N s" within a few seconds of that, however long
 * the endpoint's requests would take to time out.
 */
export async function uploadPart(options: UploadPartOptions): Promise<StoredPart> {
  const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const watchdog = stallTimeoutMs > 0 ? new StallWatchdog(stallTimeoutMs, (idle) => new UploadStalledError(options.storage.location + options.key, idle)) : undefined;
  watchdog?.signal.addEventListener("abort", () => options.onStall?.(watchdog.signal.reason as UploadStalledError), { once: true });
  const progressed = (bytes: number): void => {
    watchdog?.touch();
    options.onProgress?.(bytes);
  };
  const encrypted = options.recipients.length > 0;
  try {
    // Unencrypted, the stored bytes are the plain bytes: one hash serves both.
    const plain = new HashingStream(encrypted ? undefined : progressed);
    // pipeline() destroys every stream with the first error, so a failing source reaches the
    // upload as an error (multipart aborted) rather than as a short object.
    pipeline(options.source, plain, () => undefined);
    let stored = plain;
    if (encrypted) {
      stored = new HashingStream(progressed);
      pipeline(await encryptStream(plain, options.recipients), stored, () => undefined);
    }
    const signals = [options.signal, watchdog?.signal].filter((s): s is AbortSignal => s !== undefined);
    let size: number;
    try {
      ({ size } = await options.storage.put(options.key, stored, {
        metadata: options.metadata,
        contentType: options.contentType,
        signal: signals.length ? AbortSignal.any(signals) : undefined,
        // A completed part is progress too (its bytes were read long before).
        onProgress: () => watchdog?.touch(),
      }));
    } catch (error) {
      // The storage only knows it was cancelled; the watchdog knows why.
      if (watchdog?.stalled) throw watchdog.signal.reason;
      throw error;
    }
    return {
      key: options.key,
      size,
      sha256: stored.digest(),
      plainSize: plain.bytes,
      plainSha256: plain.digest(),
    };
  } finally {
    watchdog?.stop();
  }
}

/**
 * Store a small object held in memory (a media file already read to hash it): encrypted as
 * one buffer and sent as one sized PutObject, so the file is read once, not twice. Each
 * byte is hashed once: the plain SHA-256 comes from the caller when it has it, a plaintext
 * object's stored hash is its plain hash, and the stored hash goes to storage as the
 * payload hash the endpoint checks.
 */
export async function uploadBuffer(
  options: Omit<UploadPartOptions, "source" | "onProgress" | "stallTimeoutMs" | "onStall"> & { data: Uint8Array; plainSha256?: string },
): Promise<StoredPart> {
  const plainSha256 = options.plainSha256 ?? sha256Hex(options.data);
  const encrypted = options.recipients.length > 0;
  const body = encrypted ? await encryptBuffer(options.data, options.recipients) : options.data;
  const sha256 = encrypted ? sha256Hex(body) : plainSha256;
  const { size } = await options.storage.put(options.key, body, {
    metadata: options.metadata,
    contentType: options.contentType,
    signal: options.signal,
    sha256,
  });
  return { key: options.key, size, sha256, plainSize: options.data.byteLength, plainSha256 };
}
