import { pipeline } from "node:stream";
import type { Readable } from "node:stream";
import { encryptBuffer, encryptStream } from "../crypto/age.ts";
import type { StoredPart } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { HashingStream, sha256Hex } from "../streams/hash-stream.ts";

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
}

/**
 * Stream one object into storage: plain SHA-256 -> age encryption -> stored SHA-256 ->
 * multipart upload, with nothing written to disk and nothing held whole in memory. An
 * error anywhere (source, encryption, upload) rejects and leaves no object behind.
 */
export async function uploadPart(options: UploadPartOptions): Promise<StoredPart> {
  const encrypted = options.recipients.length > 0;
  // Unencrypted, the stored bytes are the plain bytes: one hash serves both.
  const plain = new HashingStream(encrypted ? undefined : options.onProgress);
  // pipeline() destroys every stream with the first error, so a failing source reaches the
  // upload as an error (multipart aborted) rather than as a short object.
  pipeline(options.source, plain, () => undefined);
  let stored = plain;
  if (encrypted) {
    stored = new HashingStream(options.onProgress);
    pipeline(await encryptStream(plain, options.recipients), stored, () => undefined);
  }
  const { size } = await options.storage.put(options.key, stored, {
    metadata: options.metadata,
    contentType: options.contentType,
    signal: options.signal,
  });
  return {
    key: options.key,
    size,
    sha256: stored.digest(),
    plainSize: plain.bytes,
    plainSha256: plain.digest(),
  };
}

/**
 * Store a small object held in memory (a media file already read to hash it): encrypted as
 * one buffer and sent as one sized PutObject, so the file is read once, not twice. Each
 * byte is hashed once: the plain SHA-256 comes from the caller when it has it, a plaintext
 * object's stored hash is its plain hash, and the stored hash goes to storage as the
 * payload hash the endpoint checks.
 */
export async function uploadBuffer(
  options: Omit<UploadPartOptions, "source" | "onProgress"> & { data: Uint8Array; plainSha256?: string },
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
