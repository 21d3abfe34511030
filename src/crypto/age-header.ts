import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import { base64nopad } from "@scure/base";
import type { Stanza } from "age-encryption";
import { NONCE_SIZE, payloadKey, secretKey } from "./age-stream.ts";
import type { KeyObject } from "node:crypto";

/**
 * The header of an age v1 file (https://age-encryption.org/v1, "Header"), written with
 * node:crypto for the common case where every recipient is X25519: the same bytes
 * `age-encryption`'s Encrypter writes (its encodeHeader), without its web-stream round trip
 * of an empty payload, which cost ~120 µs of the ~280 µs it took to encrypt a small media
 * file (`node bench/age-crypto.ts`). Recipient types we do not implement still go through
 * the library (age.ts). Checked in age.test.ts by the stock `age` CLI and the library.
 */

const VERSION_LINE = "age-encryption.org/v1\n";
/** Stanza bodies are wrapped at 64 base64 columns = 48 bytes. */
const BODY_LINE_BYTES = 48;

/** The header up to and including "---": what the MAC covers. */
export function encodeHeaderNoMac(stanzas: readonly Stanza[]): Buffer {
  const lines = [VERSION_LINE];
  for (const stanza of stanzas) {
    lines.push(`-> ${stanza.args.join(" ")}\n`);
    for (let at = 0; at < stanza.body.length; at += BODY_LINE_BYTES) lines.push(`${base64nopad.encode(stanza.body.subarray(at, at + BODY_LINE_BYTES))}\n`);
    // A body that fills its last line exactly is ended by an empty line.
    if (stanza.body.length % BODY_LINE_BYTES === 0) lines.push("\n");
  }
  lines.push("---");
  return Buffer.from(lines.join(""));
}

/** The start of a new age file: header, MAC and payload nonce, and the payload's STREAM key. */
export interface FileStart {
  /** Header and nonce: the first bytes of the file. */
  head: Buffer;
  key: KeyObject;
}

/**
 * Start a new age file for recipients that wrap a file key synchronously: a fresh 16-byte
 * file key, one stanza set per recipient, the header MAC (HMAC-SHA-256 under
 * HKDF(file key, info "header")), then a fresh 16-byte payload nonce.
 */
export function startFileWith(recipients: readonly { wrapFileKey(fileKey: Uint8Array): Stanza[] }[]): FileStart {
  const fileKey = randomBytes(16);
  const stanzas = recipients.flatMap((recipient) => recipient.wrapFileKey(fileKey));
  const noMac = encodeHeaderNoMac(stanzas);
  const macKey = secretKey(new Uint8Array(hkdfSync("sha256", secretKey(fileKey), new Uint8Array(0), "header", 32)));
  const mac = createHmac("sha256", macKey).update(noMac).digest();
  const nonce = randomBytes(NONCE_SIZE);
  return { head: Buffer.concat([noMac, Buffer.from(` ${base64nopad.encode(mac)}\n`), nonce]), key: payloadKey(fileKey, nonce) };
}
