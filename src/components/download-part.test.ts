import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredPart } from "../manifest/index.ts";
import { MemoryStorage } from "../storage/memory/memory-storage.ts";
import { findAge, startAgeDecrypt } from "./age-child.ts";
import { type DownloadOptions, downloadPartToFile } from "./download-part.ts";
import { uploadBuffer } from "./upload-part.ts";
import { drErrorOf } from "../errors/dr-error-of.ts";

let dir: string;
let identity: string;
let storage: MemoryStorage;
let part: StoredPart;
const data = randomBytes(3 * 1024 * 1024 + 12_345);
const age = findAge();
const NO_AGE = "the age CLI is not installed (bash scripts/bootstrap.sh installs it)";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dr-drill-download-"));
  identity = await generateIdentity();
  storage = new MemoryStorage();
  part = await uploadBuffer({ storage, key: "postgres/b1/dump.age", data, recipients: [await identityToRecipient(identity)] });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const options = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({ storage, part, backupId: "b1", identities: [identity], encrypted: true, ...extra });

describe("downloadPart with the stock age decrypting (decryptInChild)", () => {
  it("age writes the restored file itself: the plaintext byte for byte, the stored bytes counted", async (ctx) => {
    if (!age) return ctx.skip(NO_AGE);
    const file = join(dir, "whole");
    const result = await downloadPartToFile(options({ decryptInChild: true }), file);
    expect((await readFile(file)).equals(data)).toBe(true);
    expect(result).toEqual({ storedBytes: part.size, plainBytes: data.length });
  });

  it("the plain bytes never pass through this process then, so only verify (in-process) recomputes their SHA-256", async (ctx) => {
    if (!age) return ctx.skip(NO_AGE);
    const forged = { ...part, plainSha256: "0".repeat(64) };
    await downloadPartToFile(options({ part: forged, decryptInChild: true }), join(dir, "forged-child"));
    const inProcess = await drErrorOf(downloadPartToFile(options({ part: forged }), join(dir, "forged-here")));
    expect(inProcess.message).toBe(`unable to verify backup 'b1': plain SHA-256 mismatch on '${part.key}': expected ${"0".repeat(64)}, got ${part.plainSha256}`);
    expect(existsSync(join(dir, "forged-here"))).toBe(false);
  });

  it("a wrong key: DECRYPTION_FAILED with age's reason and the hint, no file left", async (ctx) => {
    if (!age) return ctx.skip(NO_AGE);
    const file = join(dir, "wrong-key");
    const error = await drErrorOf(downloadPartToFile(options({ identities: [await generateIdentity()], decryptInChild: true }), file));
    expect(error.code).toBe("DECRYPTION_FAILED");
    expect(error.message).toBe("unable to decrypt backup 'b1': no identity matched any of the recipients (age -d)");
    expect(error.hint).toContain("DR_AGE_IDENTITY_FILE");
    expect(existsSync(file)).toBe(false);
  });

  it("a flipped byte or a cut object: the stored SHA-256 or size mismatch, naming the key (age stops at the damage)", async (ctx) => {
    if (!age) return ctx.skip(NO_AGE);
    const stored = Buffer.concat(await (await storage.get(part.key)).toArray());
    const flipped = Buffer.from(stored);
    const at = flipped.length - 70_000;
    flipped.writeUInt8(flipped.readUInt8(at) ^ 0x01, at);
    const damaged = new MemoryStorage();
    await damaged.put(part.key, flipped);
    const error = await drErrorOf(downloadPartToFile(options({ storage: damaged, decryptInChild: true }), join(dir, "flipped")));
    expect(error.code).toBe("INTEGRITY_FAILED");
    expect(error.message).toMatch(new RegExp(`^unable to verify backup 'b1': SHA-256 mismatch on '${part.key}'`));
    await damaged.put(part.key, stored.subarray(0, stored.length - 100_000));
    const cut = await drErrorOf(downloadPartToFile(options({ storage: damaged, decryptInChild: true }), join(dir, "cut")));
    expect(cut.message).toBe(`unable to verify backup 'b1': size mismatch on '${part.key}': expected ${part.size}, got ${part.size - 100_000}`);
    expect(existsSync(join(dir, "flipped")) || existsSync(join(dir, "cut"))).toBe(false);
  });
});

describe("startAgeDecrypt", () => {
  it("hands age the key on descriptor 3 only: not in its argv, not in its environment", async () => {
    // A stand-in for age that records what it was given.
    const seen = join(dir, "seen");
    const fake = join(dir, "fake-age");
    await writeFile(fake, `#!/bin/sh\n{ echo "ARGV $*"; env; echo "FD3 $(cat /dev/fd/3)"; } > '${seen}'\ncat > /dev/null\n`);
    await chmod(fake, 0o755);
    const out = join(dir, "fake-out");
    await writeFile(out, "");
    const handle = await open(out, "w");
    try {
      const child = startAgeDecrypt(fake, [identity], handle.fd, "b1");
      child.stdin.end("stored bytes");
      await child.exited;
    } finally {
      await handle.close();
    }
    const lines = (await readFile(seen, "utf8")).split("\n");
    expect(lines.find((l) => l.startsWith("ARGV "))).toBe("ARGV -d -i /dev/fd/3");
    expect(lines.find((l) => l.startsWith("FD3 "))).toBe(`FD3 ${identity}`);
    const env = lines.filter((l) => !l.startsWith("ARGV ") && !l.startsWith("FD3 "));
    expect(env.some((l) => l.includes(identity) || l.startsWith("DR_AGE_DECRYPT_IDENTITIES="))).toBe(false);
  });
});
