import { Transform, type TransformCallback } from "node:stream";

const BLOCK = 512;

/** Read a NUL-terminated field of a tar header. */
function field(header: Buffer, start: number, length: number): string {
  const slice = header.subarray(start, start + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end < 0 ? length : end).toString("utf8");
}

/** Entry size: octal text, or base-256 when the high bit of the first byte is set (GNU, > 8 GiB). */
function entrySize(header: Buffer): number {
  const raw = header.subarray(124, 136);
  if (raw[0]! & 0x80) {
    let size = 0;
    for (let i = 1; i < raw.length; i += 1) size = size * 256 + raw[i]!;
    return size;
  }
  return parseInt(field(header, 124, 12).trim() || "0", 8);
}

/**
 * A pass-through over a tar stream that keeps the content of a few named entries (e.g.
 * `backup_label` and `backup_manifest` in pg_basebackup's output) while the whole stream
 * flows on untouched: the facts a manifest needs come from the bytes being uploaded, with
 * no second read and no temp file. Only the wanted entries are held in memory.
 */
export class TarEntryCapture extends Transform {
  readonly #wanted: ReadonlySet<string>;
  readonly #captured = new Map<string, Buffer>();
  #header = Buffer.alloc(0);
  /** Bytes left in the current entry's data (padding included). */
  #skip = 0;
  /** Bytes of the current entry's content still to capture, and where they go. */
  #take = 0;
  #name: string | undefined;
  #chunks: Buffer[] = [];
  #ended = false;
  #bytes = 0;

  constructor(names: readonly string[]) {
    super();
    this.#wanted = new Set(names);
  }

  /** The captured entries by name (call after the stream ended). */
  get entries(): ReadonlyMap<string, Buffer> {
    return this.#captured;
  }

  /** Bytes passed through so far (the whole tar once the stream ended). */
  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    this.#scan(chunk);
    callback(null, chunk);
  }

  #scan(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.#ended) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - offset);
        if (this.#take > 0) {
          const keep = Math.min(this.#take, n);
          this.#chunks.push(Buffer.from(chunk.subarray(offset, offset + keep)));
          this.#take -= keep;
          if (this.#take === 0 && this.#name) {
            this.#captured.set(this.#name, Buffer.concat(this.#chunks));
            this.#chunks = [];
            this.#name = undefined;
          }
        }
        this.#skip -= n;
        offset += n;
        continue;
      }
      const need = BLOCK - this.#header.length;
      const piece = chunk.subarray(offset, offset + need);
      this.#header = this.#header.length ? Buffer.concat([this.#header, piece]) : Buffer.from(piece);
      offset += piece.length;
      if (this.#header.length < BLOCK) return;
      const header = this.#header;
      this.#header = Buffer.alloc(0);
      // Two zero blocks end the archive; one is enough to know no entry follows.
      if (header.every((b) => b === 0)) {
        this.#ended = true;
        return;
      }
      const prefix = field(header, 345, 155);
      const name = (prefix ? `${prefix}/` : "") + field(header, 0, 100);
      const size = entrySize(header);
      this.#skip = Math.ceil(size / BLOCK) * BLOCK;
      if (this.#wanted.has(name)) {
        this.#name = name;
        this.#take = size;
        if (size === 0) this.#captured.set(name, Buffer.alloc(0));
      }
    }
  }
}
