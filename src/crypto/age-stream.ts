import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { Transform } from "node:stream";
import type { TransformCallback } from "node:stream";

/**
 * The payload half of the age v1 format (https://age-encryption.org/v1, "Payload"): the
 * STREAM construction over ChaCha20-Poly1305 in 64 KiB chunks, done with node:crypto
 * (OpenSSL) instead of the pure-JS cipher inside `age-encryption`, which is ~5x slower and
 * was the backup pipeline's bottleneck. The header is age-header.ts's or the library's:
 * see age.ts. Tested against the stock `age` CLI and `age-encryption`.
 */

const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE_SIZE = 16;

/**
 * A secret as a KeyObject. node:crypto probes a Buffer key with a thrown and caught
 * TypeError before using it (isKeyObject in Node 24): 10-20 µs per cipher or HKDF call,
 * a third of the cost of encrypting a small file. A KeyObject skips the probe.
 */
export function secretKey(bytes: Uint8Array): KeyObject {
  return createSecretKey(bytes);
}

/** HKDF-SHA-256(file key, salt = nonce, info = "payload"): the STREAM key of one file. */
export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): KeyObject {
  return secretKey(new Uint8Array(hkdfSync("sha256", secretKey(fileKey), nonce, "payload", 32)));
}

/** Chunk nonce: 11-byte big-endian counter, then 1 for the last chunk, else 0. */
function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** One sealed chunk as [ciphertext, tag] (handed on as two buffers: no concatenation copy). */
function seal(key: KeyObject, counter: number, last: boolean, plain: Uint8Array): Buffer[] {
  const cipher = createCipheriv("chacha20-poly1305", key, chunkNonce(counter, last), { authTagLength: TAG });
  const sealed = cipher.update(plain);
  cipher.final();
  return [sealed, cipher.getAuthTag()];
}

function open(key: KeyObject, counter: number, last: boolean, sealed: Buffer): Buffer {
  const decipher = createDecipheriv("chacha20-poly1305", key, chunkNonce(counter, last), { authTagLength: TAG });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG));
  decipher.final();
  return plain;
}

/**
 * Cuts a byte stream into fixed-size records and always holds the newest full record back,
 * because only the end of the input tells whether it is the last one (its nonce says so).
 */
export class ChunkSequencer {
  readonly #record: number;
  readonly #process: (record: Buffer, counter: number, last: boolean) => Buffer[];
  // Input not yet sealed, kept as the caller's buffers (never reused by Node streams), so
  // aligned input is processed without a copy.
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #counter = 0;

  constructor(record: number, process: (record: Buffer, counter: number, last: boolean) => Buffer[]) {
    this.#record = record;
    this.#process = process;
  }

  /** Output of the records completed by `data` (every one but the held-back newest). */
  push(data: Buffer): Buffer[] {
    if (data.length > 0) {
      this.#pending.push(data);
      this.#pendingBytes += data.length;
    }
    const out: Buffer[] = [];
    // Strictly more than one record left: the one held back is then not the last.
    while (this.#pendingBytes > this.#record) out.push(...this.#process(this.#take(this.#record), this.#counter++, false));
    return out;
  }

  /** Output of the last record, at the end of the input. */
  finish(): Buffer[] {
    return this.#process(this.#take(this.#pendingBytes), this.#counter, true);
  }

  /** The next `size` pending bytes: a slice when one buffer holds them, else one copy. */
  #take(size: number): Buffer {
    const first = this.#pending[0];
    let record: Buffer;
    if (first && first.length >= size) {
      record = first.subarray(0, size);
      if (first.length === size) this.#pending.shift();
      else this.#pending[0] = first.subarray(size);
    } else {
      record = Buffer.allocUnsafe(size);
      let filled = 0;
      while (filled < size) {
        const head = this.#pending[0]!;
        const n = Math.min(head.length, size - filled);
        head.copy(record, filled, 0, n);
        filled += n;
        if (n === head.length) this.#pending.shift();
        else this.#pending[0] = head.subarray(n);
      }
    }
    this.#pendingBytes -= size;
    return record;
  }
}

/** A payload encrypter: plain records of 64 KiB in, sealed chunks out. */
export function payloadEncrypter(key: KeyObject): ChunkSequencer {
  return new ChunkSequencer(CHUNK, (record, counter, last) => seal(key, counter, last, record));
}

/** A payload decrypter: sealed chunks in, plain bytes out; tampering or truncation throws. */
export function payloadDecrypter(key: KeyObject): ChunkSequencer {
  return new ChunkSequencer(CHUNK + TAG, (record, counter, last) => {
    if (record.length < TAG) throw new Error(record.length === 0 && counter > 0 ? "payload ends at a chunk boundary with no final chunk" : "payload is truncated");
    const plain = open(key, counter, last, record);
    // age allows an empty final chunk only when the whole plaintext is empty.
    if (last && plain.length === 0 && counter > 0) throw new Error("final chunk is empty");
    return [plain];
  });
}

/** A Node stream over a sequencer (errors from it destroy the stream). */
export function sequencerStream(sequencer: ChunkSequencer): Transform {
  return new Transform({
    highWaterMark: 4 * CHUNK,
    transform(data: Buffer, _encoding, done: TransformCallback) {
      try {
        for (const out of sequencer.push(data)) this.push(out);
        done();
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        for (const out of sequencer.finish()) this.push(out);
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  });
}

/** Encrypt a whole buffer's payload at once (small media files: no stream machinery), as the sealed pieces in order. */
export function sealPayload(key: KeyObject, plain: Uint8Array): Buffer[] {
  const sequencer = payloadEncrypter(key);
  return [...sequencer.push(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)), ...sequencer.finish()];
}

/** The sealed empty final chunk of an empty payload (checks a derived key against a header). */
export function sealEmptyPayload(key: KeyObject): Buffer {
  return Buffer.concat(seal(key, 0, true, new Uint8Array(0)));
}

export { NONCE_SIZE, TAG as PAYLOAD_TAG_SIZE };
