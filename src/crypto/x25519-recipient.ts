import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { base64nopad, bech32 } from "@scure/base";
import type { Recipient, Stanza } from "age-encryption";
import { secretKey } from "./age-stream.ts";

/**
 * The age X25519 recipient (https://age-encryption.org/v1, "X25519 recipient type") on
 * node:crypto, plugged into `age-encryption` through its documented `Recipient` interface.
 * It does what the library's own X25519Recipient does, but the library goes through
 * WebCrypto key imports for every file (~0.7 ms a file), which dominated encrypting
 * thousands of small media files. Checked by the stock `age` CLI in age.test.ts.
 */
export class X25519Recipient implements Recipient {
  readonly #raw: Uint8Array;
  readonly #peer: KeyObject;

  constructor(recipient: string) {
    const decoded = decodeRecipient(recipient);
    this.#raw = decoded;
    this.#peer = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(decoded).toString("base64url") }, format: "jwk" });
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const ephemeral = generateKeyPairSync("x25519");
    const share = Buffer.from(ephemeral.publicKey.export({ format: "jwk" }).x!, "base64url");
    const secret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: this.#peer });
    // A low-order recipient key gives an all-zero secret; age refuses it.
    if (secret.every((byte) => byte === 0)) throw new Error("invalid X25519 recipient: low-order point");
    const salt = Buffer.concat([share, this.#raw]);
    const key = secretKey(new Uint8Array(hkdfSync("sha256", secretKey(secret), salt, "age-encryption.org/v1/X25519", 32)));
    const cipher = createCipheriv("chacha20-poly1305", key, Buffer.alloc(12), { authTagLength: 16 });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    // The library's Stanza is these two fields; a plain object keeps the library unloaded.
    return [{ args: ["X25519", base64nopad.encode(share)], body }];
  }
}

/** The 32-byte public key inside an `age1...` recipient, or an error naming the problem. */
function decodeRecipient(recipient: string): Uint8Array {
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(recipient as `${string}1${string}`, false);
  } catch (error) {
    throw new Error(`invalid age recipient '${recipient}': ${(error as Error).message}`, { cause: error });
  }
  const bytes = bech32.fromWords(decoded.words);
  if (decoded.prefix !== "age" || bytes.length !== 32) throw new Error(`invalid age recipient '${recipient}': not an X25519 recipient (age1...)`);
  return bytes;
}

const cache = new Map<string, Recipient | string>();

/**
 * The recipient object to hand `age-encryption`: X25519 recipients (age1...) on node:crypto,
 * every other type (post-quantum hybrid, tags) left to the library as the string.
 */
export function recipientFor(recipient: string): Recipient | string {
  let found = cache.get(recipient);
  if (!found) {
    const isX25519 = recipient.startsWith("age1") && !/^age1(pq|tag|tagpq)1/.test(recipient);
    found = isX25519 ? new X25519Recipient(recipient) : recipient;
    cache.set(recipient, found);
  }
  return found;
}

/** PKCS#8 DER of an X25519 private key, up to the 32 key bytes (RFC 8410). */
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/**
 * The recipient (age1...) of an X25519 identity (AGE-SECRET-KEY-1...), with node:crypto;
 * undefined for any other identity type (post-quantum hybrid), which the library handles.
 */
export function x25519RecipientOf(identity: string): string | undefined {
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(identity.toLowerCase() as `${string}1${string}`, false);
  } catch {
    return undefined;
  }
  const secret = bech32.fromWords(decoded.words);
  if (decoded.prefix !== "age-secret-key-" || secret.length !== 32) return undefined;
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, secret]), format: "der", type: "pkcs8" });
  const publicKey = Buffer.from(createPublicKey(privateKey).export({ format: "jwk" }).x!, "base64url");
  return bech32.encode("age", bech32.toWords(publicKey), false);
}
