import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Decrypter, Encrypter, identityToRecipient } from "age-encryption";
import { DrError, messageOf } from "../errors/index.ts";

/**
 * age encryption (the format the stock `age` CLI reads) of streams, through the reference
 * TypeScript implementation. Files we write decrypt with `age -d -i KEY`.
 */

/** First 16 hex of SHA-256 of a recipient: identifies the key in manifests without being it. */
export function recipientFingerprint(recipient: string): string {
  return createHash("sha256").update(recipient).digest("hex").slice(0, 16);
}

/** Encrypt a stream to every recipient; the result streams too. */
export async function encryptStream(source: Readable, recipients: readonly string[]): Promise<Readable> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  const web = Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>;
  const encrypted = await encrypter.encrypt(web);
  return Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>);
}

/** Encrypt a small buffer to every recipient (no stream machinery: media files, file lists). */
export async function encryptBuffer(data: Uint8Array, recipients: readonly string[]): Promise<Uint8Array> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return await encrypter.encrypt(data);
}

/** Decrypt a stream with the given identities; a wrong key is a DrError naming what failed. */
export async function decryptStream(source: Readable, identities: readonly string[], what: string): Promise<Readable> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  const web = Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>;
  try {
    const plain = await decrypter.decrypt(web);
    return Readable.fromWeb(plain as unknown as WebReadableStream<Uint8Array>);
  } catch (error) {
    throw new DrError("DECRYPTION_FAILED", `unable to decrypt backup '${what}': ${messageOf(error)}`, {
      cause: error,
      hint: "check DR_AGE_IDENTITY_FILE holds the secret key matching a recipient the backup was encrypted to",
    });
  }
}

/** The identities (AGE-SECRET-KEY-1...) in an age identity file, as age-keygen writes it. */
export async function readIdentityFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new DrError("CONFIG_INVALID", `unable to read age identity file '${path}': ${messageOf(error)}`, {
      cause: error,
      hint: "set DR_AGE_IDENTITY_FILE to a file made by 'age-keygen -o FILE'",
    });
  }
  const identities = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("AGE-SECRET-KEY-"));
  if (identities.length === 0) {
    throw new DrError("CONFIG_INVALID", `unable to read age identity file '${path}': no AGE-SECRET-KEY line in it`, {
      hint: "set DR_AGE_IDENTITY_FILE to a file made by 'age-keygen -o FILE'",
    });
  }
  return identities;
}

/** The public recipient (age1...) of an identity. */
export async function recipientOf(identity: string): Promise<string> {
  return await identityToRecipient(identity);
}
