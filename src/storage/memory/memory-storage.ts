import { createHash } from "node:crypto";
import { Readable, addAbortSignal } from "node:stream";
import type { ObjectInfo, PutOptions, Storage, StorageCapabilities, StoredObject } from "../storage.ts";
import { toReadable } from "../storage-body.ts";
import { createCancelledError, createNotFoundError, createStorageError } from "../storage-errors.ts";
import { compareKeys, validateKey } from "../storage-key.ts";
import { normalizeMetadata } from "../storage-metadata.ts";

export interface MemoryStorageOptions {
  /** Shown in `location` as `memory://<name>/`; default "memory". */
  name?: string;
  /** Capabilities to claim, so callers' "not verified" paths can be tested. */
  capabilities?: Partial<StorageCapabilities>;
}

/** One object held in memory. */
interface MemoryObject {
  body: Buffer;
  metadata: Record<string, string>;
  lastModified: number;
  etag: string;
}

/** A Storage held in a Map, for unit tests; it necessarily buffers each object. */
export class MemoryStorage implements Storage {
  readonly location: string;
  readonly capabilities: StorageCapabilities;
  readonly #objects = new Map<string, MemoryObject>();

  constructor(options: MemoryStorageOptions = {}) {
    this.location = `memory://${options.name ?? "memory"}/`;
    this.capabilities = { versioning: false, objectLock: false, multipart: false, ...options.capabilities };
  }

  // Collect the whole body first; only a body read to its end is stored.
  async put(key: string, body: Readable | Uint8Array | string, options: PutOptions = {}): Promise<{ size: number }> {
    validateKey(key);
    const metadata = normalizeMetadata(options.metadata);
    const where = this.location + key;
    const { signal, onProgress } = options;
    if (signal?.aborted) throw createCancelledError(where, signal);
    const source = toReadable(body);
    if (signal) addAbortSignal(signal, source);
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of source) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        chunks.push(bytes);
        size += bytes.byteLength;
        onProgress?.(size);
      }
    } catch (error) {
      if (signal?.aborted) throw createCancelledError(where, signal);
      throw createStorageError("put object", where, error);
    }
    if (signal?.aborted) throw createCancelledError(where, signal);
    const stored = Buffer.concat(chunks, size);
    this.#objects.set(key, {
      body: stored,
      metadata,
      lastModified: Date.now(),
      etag: `"${createHash("md5").update(stored).digest("hex")}"`,
    });
    return { size };
  }

  // Serve a copy in 64 KiB chunks so readers see a real stream, not one big chunk.
  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    validateKey(key);
    const object = this.#objects.get(key);
    if (!object) throw createNotFoundError(this.location + key);
    const stream = Readable.from(sliceChunks(Buffer.from(object.body)), { objectMode: false });
    if (options.signal) addAbortSignal(options.signal, stream);
    return stream;
  }

  // Details of one object, or undefined when absent.
  async stat(key: string): Promise<ObjectInfo | undefined> {
    validateKey(key);
    const object = this.#objects.get(key);
    if (!object) return undefined;
    return { ...describeObject(key, object), metadata: { ...object.metadata } };
  }

  // Snapshot the matching keys first, so deletes while iterating do not skip any.
  async *list(prefix: string): AsyncIterable<StoredObject> {
    const keys = [...this.#objects.keys()].filter((key) => key.startsWith(prefix)).sort(compareKeys);
    for (const key of keys) {
      const object = this.#objects.get(key);
      if (object) yield describeObject(key, object);
    }
  }

  // Remove one object; absent keys are fine.
  async delete(key: string): Promise<void> {
    validateKey(key);
    this.#objects.delete(key);
  }

  // Remove many objects; validate all keys before deleting any.
  async deleteMany(keys: readonly string[]): Promise<void> {
    keys.forEach(validateKey);
    for (const key of keys) this.#objects.delete(key);
  }

  // Always reachable.
  async check(): Promise<void> {}
}

/** The listing view of a stored object. */
function describeObject(key: string, object: MemoryObject): StoredObject {
  return { key, size: object.body.byteLength, lastModified: object.lastModified, etag: object.etag };
}

/** Yield a buffer in fixed-size slices. */
function* sliceChunks(bytes: Buffer, chunkSize = 64 * 1024): Generator<Buffer> {
  for (let offset = 0; offset < bytes.byteLength; offset += chunkSize) {
    yield bytes.subarray(offset, offset + chunkSize);
  }
}
