import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { Transform } from "node:stream";
import type { Readable, TransformCallback } from "node:stream";
import type { Decrypter as LibraryDecrypter } from "age-encryption";
import { DrError, messageOf } from "../errors/index.ts";
import { NONCE_SIZE, PAYLOAD_TAG_SIZE, payloadDecrypter, payloadEncrypter, payloadKey, sealEmptyPayload, sealPayload, sequencerStream } from "./age-stream.ts";
import type { ChunkSequencer } from "./age-stream.ts";
import { type FileStart, startFileWith } from "./age-header.ts";
import { X25519Recipient, recipientFor, x25519RecipientOf } from "./x25519-recipient.ts";

/**
 * age encryption (the format the stock `age` CLI reads) of streams and buffers. node:crypto
 * does X25519, the header and the payload; `age-encryption` reads every header and writes
 * those of other recipient types. Files we write decrypt with `age -d -i KEY`; files
 * `age -e` writes decrypt here. The library (and the curves under it) is loaded when first
 * needed: encrypting to X25519 recipients, the case of `wal push`, never loads it, which
 * starts that command 0.1 s sooner.
 */
const library = () => import("age-encryption");

/** First 16 hex of SHA-256 of a recipient: identifies the key in manifests without being it. */
export function recipientFingerprint(recipient: string): string {
  return createHash("sha256").update(recipient).digest("hex").slice(0, 16);
}

/**
 * Start a new age file. When every recipient is X25519 (age1...), the header is written
 * here with node:crypto (age-header.ts). Otherwise `age-encryption` writes it: it draws the
 * file key, wraps it for each recipient and MACs the header, and a recipient of ours that
 * adds no stanza sees the file key so the payload can be sealed with node:crypto
 * (age-stream.ts). The library's encryption of an empty payload is exactly header, nonce
 * and one 16-byte sealed empty chunk; recomputing that chunk with our key proves the key
 * is the one the header carries.
 */
async function startFile(recipients: readonly string[]): Promise<FileStart> {
  if (recipients.length === 0) throw new Error("age encryption needs at least one recipient");
  const resolved = recipients.map(recipientFor);
  if (resolved.every((r) => r instanceof X25519Recipient)) return startFileWith(resolved);
  let fileKey: Uint8Array | undefined;
  const { Encrypter } = await library();
  const encrypter = new Encrypter();
  for (const recipient of resolved) encrypter.addRecipient(recipient);
  encrypter.addRecipient({
    wrapFileKey(key: Uint8Array) {
      fileKey = Uint8Array.from(key);
      return [];
    },
  });
  const empty = Buffer.from(await encrypter.encrypt(new Uint8Array(0)));
  const head = empty.subarray(0, empty.length - PAYLOAD_TAG_SIZE);
  if (!fileKey) throw new Error("age-encryption did not hand out the file key");
  const key = payloadKey(fileKey, head.subarray(head.length - NONCE_SIZE));
  if (!sealEmptyPayload(key).equals(empty.subarray(head.length))) throw new Error("age-encryption's file layout is not the one age v1 specifies");
  return { head: Buffer.from(head), key };
}

/** Encrypt a stream to every recipient; the result streams too. */
export async function encryptStream(source: Readable, recipients: readonly string[]): Promise<Readable> {
  const { head, key } = await startFile(recipients);
  const sealer = sequencerStream(payloadEncrypter(key));
  sealer.push(head);
  source.on("error", (error) => sealer.destroy(error));
  return source.pipe(sealer);
}

/** Encrypt a small buffer to every recipient (no stream machinery: media files, file lists). */
export async function encryptBuffer(data: Uint8Array, recipients: readonly string[]): Promise<Uint8Array> {
  const { head, key } = await startFile(recipients);
  return Buffer.concat([head, ...sealPayload(key, data)]);
}

/** The longest header we accept before calling the input "not an age file" (age's own limit is similar). */
const MAX_HEADER = 64 * 1024;
const MAGIC = Buffer.from("age-encryption.org/v1\n");

/** Index just past the header's "--- MAC" line, or -1 while it has not arrived. */
function headerEnd(bytes: Buffer): number {
  // Stanza lines start with "-> " and bodies are base64, so only the MAC line starts with "--- ".
  const mac = bytes.indexOf("\n--- ");
  if (mac < 0) return -1;
  const newline = bytes.indexOf(0x0a, mac + 1);
  return newline < 0 ? -1 : newline + 1;
}

/**
 * Decrypt a stream with the given identities: the header goes to `age-encryption`
 * (Decrypter.decryptHeader unwraps the file key and checks the header MAC), the payload to
 * node:crypto. A wrong key, a damaged header or payload is a DrError naming what failed.
 */
export async function decryptStream(source: Readable, identities: readonly string[], what: string): Promise<Readable> {
  // Nothing awaits before the source is piped: an error of the source must find the output
  // listening. The library is loaded meanwhile and first used once the header is in.
  const decrypter: Promise<LibraryDecrypter> = library().then(({ Decrypter }) => {
    const made = new Decrypter();
    for (const identity of identities) made.addIdentity(identity);
    return made;
  });
  decrypter.catch(() => undefined); // reported by the transform below, when the header arrives
  const failed = (error: unknown) =>
    new DrError("DECRYPTION_FAILED", `unable to decrypt backup '${what}': ${messageOf(error)}`, {
      cause: error,
      hint: "check DR_AGE_IDENTITY_FILE holds the secret key matching a recipient the backup was encrypted to",
    });
  let head: Buffer = Buffer.alloc(0);
  let payload: ChunkSequencer | undefined;
  const output = new Transform({
    highWaterMark: 4 * 64 * 1024,
    transform(data: Buffer, _encoding, done: TransformCallback) {
      try {
        if (payload) {
          for (const plain of payload.push(data)) this.push(plain);
          done();
          return;
        }
        head = Buffer.concat([head, data]);
        if (!head.subarray(0, MAGIC.length).equals(MAGIC.subarray(0, Math.min(head.length, MAGIC.length)))) throw new Error("not an age file (no age-encryption.org/v1 header)");
        const end = headerEnd(head);
        if (end < 0 || head.length < end + NONCE_SIZE) {
          if (head.length > MAX_HEADER) throw new Error("not an age file (no header end in the first 64 KiB)");
          done();
          return;
        }
        decrypter.then((d) => d.decryptHeader(head.subarray(0, end))).then(
          (fileKey) => {
            try {
              payload = payloadDecrypter(payloadKey(fileKey, head.subarray(end, end + NONCE_SIZE)));
              for (const plain of payload.push(head.subarray(end + NONCE_SIZE))) this.push(plain);
              head = Buffer.alloc(0);
              done();
            } catch (error) {
              done(failed(error));
            }
          },
          (error: unknown) => done(failed(error)),
        );
      } catch (error) {
        done(failed(error));
      }
    },
    flush(done: TransformCallback) {
      try {
        if (!payload) throw new Error("the file ends inside its header");
        for (const plain of payload.finish()) this.push(plain);
        done();
      } catch (error) {
        done(failed(error));
      }
    },
  });
  source.on("error", (error) => output.destroy(error));
  return source.pipe(output);
}

/** Print a warning to stderr (the default for readIdentityFile's onWarning). */
function warnOnStderr(line: string): void {
  process.stderr.write(`dr-drill: warning: ${line}\n`);
}

/**
 * The identities (AGE-SECRET-KEY-1...) in an age identity file, as age-keygen writes it.
 * A file open to other users (any group or world bit) still works, with a warning: the key
 * decrypts every backup, and age-keygen itself makes it 0600.
 */
export async function readIdentityFile(path: string, onWarning: (line: string) => void = warnOnStderr): Promise<string[]> {
  let text: string;
  try {
    const mode = (await stat(path)).mode & 0o777;
    if (process.platform !== "win32" && (mode & 0o077) !== 0) {
      onWarning(`age identity file '${path}' is open to other users (mode 0${mode.toString(8)}); whoever can read it can decrypt every backup: run 'chmod 600 ${path}'`);
    }
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
  return x25519RecipientOf(identity) ?? (await (await library()).identityToRecipient(identity));
}
