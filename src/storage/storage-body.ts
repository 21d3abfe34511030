import { Readable, Transform } from "node:stream";
import type { TransformCallback } from "node:stream";

/** A put body as a stream, so every driver has one path for buffers, strings and streams. */
export function toReadable(body: Readable | Uint8Array | string): Readable {
  if (body instanceof Readable) return body;
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  // One chunk in an array: Readable.from would otherwise iterate a Buffer byte by byte.
  return Readable.from([bytes], { objectMode: false });
}

/** A pass-through that counts the bytes flowing through it and reports each step. */
export class ByteCounter extends Transform {
  /** Bytes passed through so far. */
  bytes = 0;
  readonly #onBytes: ((bytes: number) => void) | undefined;

  constructor(onBytes?: (bytes: number) => void) {
    super();
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.byteLength;
    this.#onBytes?.(this.bytes);
    callback(null, chunk);
  }
}
