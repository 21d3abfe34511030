import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

/** A pass-through that hashes (SHA-256) and counts what flows through it. */
export class HashingStream extends Transform {
  #hash: Hash = createHash("sha256");
  #bytes = 0;
  #digest: string | undefined;
  readonly #onProgress: ((bytes: number) => void) | undefined;

  constructor(onProgress?: (bytes: number) => void) {
    super();
    this.#onProgress = onProgress;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    this.#onProgress?.(this.#bytes);
    callback(null, chunk);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Hex SHA-256 of everything seen; call after the stream ended. */
  digest(): string {
    this.#digest ??= this.#hash.digest("hex");
    return this.#digest;
  }
}

/** Hex SHA-256 of bytes held in memory. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 and size of a whole stream, reading it once without keeping it. */
export async function hashStream(stream: NodeJS.ReadableStream): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    hash.update(buf);
    size += buf.length;
  }
  return { sha256: hash.digest("hex"), size };
}
