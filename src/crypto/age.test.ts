import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { Decrypter, Encrypter, Stanza, generateHybridIdentity, generateIdentity, identityToRecipient } from "age-encryption";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeHeaderNoMac } from "./age-header.ts";
import { decryptStream, encryptBuffer, encryptStream } from "./age.ts";

// Edges of the 64 KiB STREAM chunking: empty, one byte, one chunk minus/exactly/plus one, two chunks.
const SIZES = [0, 1, 65_535, 65_536, 65_537, 131_072, 300_001];

/** A stream that hands `data` over in pieces of `piece` bytes (exercises the buffering). */
function piecewise(data: Buffer, piece: number): Readable {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += piece) pieces.push(data.subarray(offset, offset + piece));
  return Readable.from(pieces, { objectMode: false });
}

let dir: string;
let identity: string;
let recipient: string;
let other: string;
let ageCli = true;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dr-drill-age-"));
  identity = await generateIdentity();
  recipient = await identityToRecipient(identity);
  other = await identityToRecipient(await generateIdentity());
  await writeFile(join(dir, "key.txt"), `${identity}\n`, { mode: 0o600 });
  ageCli = (await execa("age", ["--version"], { reject: false })).exitCode === 0;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("age encryption (library header, node:crypto payload)", () => {
  it.each(SIZES)("round-trips %i bytes through encryptStream/decryptStream in odd pieces", async (size) => {
    const plain = randomBytes(size);
    const sealed = await buffer(await encryptStream(piecewise(plain, 7_777), [recipient, other]));
    const opened = await buffer(await decryptStream(piecewise(sealed, 5_001), [identity], "test"));
    expect(opened.equals(plain)).toBe(true);
  });

  it.each(SIZES)("writes %i bytes that age-encryption's own Decrypter reads", async (size) => {
    const plain = randomBytes(size);
    const sealed = await encryptBuffer(plain, [recipient]);
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    expect(Buffer.from(await decrypter.decrypt(sealed)).equals(plain)).toBe(true);
  });

  it.each(SIZES)("reads %i bytes that age-encryption's own Encrypter wrote", async (size) => {
    const plain = randomBytes(size);
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    const sealed = Buffer.from(await encrypter.encrypt(plain));
    expect((await buffer(await decryptStream(Readable.from([sealed]), [identity], "test"))).equals(plain)).toBe(true);
  });

  it("encryptBuffer and encryptStream agree on the size age specifies", async () => {
    const plain = randomBytes(200_000);
    const a = await encryptBuffer(plain, [recipient]);
    const b = await buffer(await encryptStream(Readable.from([plain]), [recipient]));
    // Same header length (one X25519 stanza), payload = plain + 16 per 64 KiB chunk.
    expect(a.length).toBe(b.length);
    expect(Buffer.from(a).equals(b)).toBe(false);
  });

  it("the stock age CLI decrypts what we write and we decrypt what it writes, at every edge size", async (context) => {
    if (!ageCli) context.skip("the age CLI is not installed (bash scripts/bootstrap.sh installs it)");
    for (const size of SIZES) {
      const plain = randomBytes(size);
      const ours = join(dir, `ours-${size}.age`);
      await writeFile(ours, await buffer(await encryptStream(Readable.from([plain]), [recipient])));
      const fromCli = await execa("age", ["-d", "-i", join(dir, "key.txt"), ours], { encoding: "buffer", stripFinalNewline: false });
      expect(Buffer.from(fromCli.stdout).equals(plain), `age -d of ${size} bytes`).toBe(true);
      const theirs = await execa("age", ["-e", "-r", recipient], { input: plain, encoding: "buffer", stripFinalNewline: false });
      const opened = await buffer(await decryptStream(Readable.from([Buffer.from(theirs.stdout)]), [identity], "cli"));
      expect(opened.equals(plain), `ours of age -e, ${size} bytes`).toBe(true);
    }
  });

  it("refuses a wrong key, naming the backup and the fix", async () => {
    const sealed = await encryptBuffer(randomBytes(1000), [other]);
    const opened = decryptStream(Readable.from([Buffer.from(sealed)]), [identity], "postgres/x");
    await expect(opened.then(buffer)).rejects.toMatchObject({
      code: "DECRYPTION_FAILED",
      message: expect.stringMatching(/^unable to decrypt backup 'postgres\/x': no identity matched/),
      hint: expect.stringContaining("DR_AGE_IDENTITY_FILE"),
    });
  });

  it.each([
    ["a flipped payload byte", (s: Buffer) => Buffer.concat([s.subarray(0, s.length - 100), Buffer.from([s[s.length - 100]! ^ 1]), s.subarray(s.length - 99)])],
    ["a flipped header byte", (s: Buffer) => Buffer.concat([s.subarray(0, 40), Buffer.from([s[40]! ^ 1]), s.subarray(41)])],
    // 131,072 plain bytes = two full chunks; dropping the second ends the file at a chunk boundary.
    ["a dropped final chunk", (s: Buffer) => s.subarray(0, s.length - (65_536 + 16))],
    ["a truncated tail", (s: Buffer) => s.subarray(0, s.length - 5)],
    ["a file cut inside its header", (s: Buffer) => s.subarray(0, 30)],
    ["not an age file", () => Buffer.from("PGDMP plain dump")],
  ])("detects %s", async (_name, damage) => {
    const sealed = Buffer.from(await encryptBuffer(randomBytes(131_072), [recipient]));
    const opened = decryptStream(Readable.from([damage(sealed)]), [identity], "t");
    await expect(opened.then(buffer)).rejects.toMatchObject({ code: "DECRYPTION_FAILED" });
  });
});

describe("age header", () => {
  // Bodies of 0, 1, 47, 48 (fills a line: an empty line follows), 49 and 96 bytes.
  const stanzas = [0, 1, 47, 48, 49, 96].map((size, i) => new Stanza(["test", `arg${i}`], new Uint8Array(size).fill(i + 1)));

  it("encodes stanzas byte for byte as age-encryption does, at every line-wrap edge", async () => {
    const encrypter = new Encrypter();
    encrypter.addRecipient({ wrapFileKey: () => stanzas });
    const file = Buffer.from(await encrypter.encrypt(new Uint8Array(0)));
    const theirs = file.subarray(0, file.indexOf("\n---") + 4);
    expect(encodeHeaderNoMac(stanzas).toString()).toBe(theirs.toString());
  });

  it("leaves recipient types other than X25519 to age-encryption, mixed with X25519 ones", async () => {
    const hybrid = await generateHybridIdentity();
    const plain = randomBytes(70_000);
    const sealed = Buffer.from(await encryptBuffer(plain, [await identityToRecipient(hybrid), recipient]));
    expect(sealed.toString("latin1", 0, 200)).toMatch(/\n-> mlkem768x25519 /);
    const decrypter = new Decrypter();
    decrypter.addIdentity(hybrid);
    expect(Buffer.from(await decrypter.decrypt(sealed)).equals(plain)).toBe(true);
    expect((await buffer(await decryptStream(Readable.from([sealed]), [identity], "test"))).equals(plain)).toBe(true);
    const streamed = await buffer(await encryptStream(piecewise(plain, 9_999), [await identityToRecipient(hybrid)]));
    expect((await buffer(await decryptStream(Readable.from([streamed]), [hybrid], "test"))).equals(plain)).toBe(true);
  });
});

describe("X25519 recipient on node:crypto", () => {
  it("names a malformed recipient", async () => {
    const { X25519Recipient } = await import("./x25519-recipient.ts");
    expect(() => new X25519Recipient("age1notarecipient")).toThrow(/^invalid age recipient 'age1notarecipient'/);
    expect(() => new X25519Recipient("AGE-SECRET-KEY-1QQQ")).toThrow(/^invalid age recipient/);
  });
});

describe("recipient of an identity on node:crypto", () => {
  it("is the library's for X25519 identities; other types go to the library", async () => {
    const { x25519RecipientOf } = await import("./x25519-recipient.ts");
    const { recipientOf } = await import("./age.ts");
    for (let i = 0; i < 20; i++) {
      const x25519 = await generateIdentity();
      expect(x25519RecipientOf(x25519)).toBe(await identityToRecipient(x25519));
    }
    const hybrid = await generateHybridIdentity();
    expect(x25519RecipientOf(hybrid)).toBeUndefined();
    expect(await recipientOf(hybrid)).toBe(await identityToRecipient(hybrid));
    expect(x25519RecipientOf("AGE-SECRET-KEY-1QQQ")).toBeUndefined();
  });
});
