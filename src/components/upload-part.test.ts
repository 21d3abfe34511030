import { createHash } from "node:crypto";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../storage/memory/memory-storage.ts";
import type { PutOptions } from "../storage/storage.ts";
import { Readable } from "node:stream";
import { uploadBuffer, uploadPart } from "./upload-part.ts";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A MemoryStorage that records the options of every put. */
function recordingStorage(): { storage: MemoryStorage; puts: PutOptions[] } {
  const storage = new MemoryStorage();
  const puts: PutOptions[] = [];
  const put = storage.put.bind(storage);
  storage.put = async (key, body, options = {}) => {
    puts.push(options);
    return await put(key, body, options);
  };
  return { storage, puts };
}

/** The stored bytes of key. */
async function readBack(storage: MemoryStorage, key: string): Promise<Buffer> {
  return Buffer.concat(await (await storage.get(key)).toArray());
}

describe("uploadBuffer", () => {
  const data = Buffer.from("media file bytes ".repeat(1000));

  it("stores plaintext with one hash: stored SHA-256 = plain SHA-256, handed to storage as the payload hash", async () => {
    const { storage, puts } = recordingStorage();
    const part = await uploadBuffer({ storage, key: "m/a", data, recipients: [] });
    expect(part).toEqual({ key: "m/a", size: data.byteLength, sha256: sha256(data), plainSize: data.byteLength, plainSha256: sha256(data) });
    expect(puts.map((p) => p.sha256)).toEqual([sha256(data)]);
    expect(sha256(await readBack(storage, "m/a"))).toBe(part.sha256);
  });

  it("takes the caller's plain SHA-256 instead of hashing again", async () => {
    const { storage } = recordingStorage();
    const part = await uploadBuffer({ storage, key: "m/b", data, plainSha256: "f".repeat(64), recipients: [] });
    expect(part.plainSha256).toBe("f".repeat(64));
    expect(part.sha256).toBe("f".repeat(64));
  });

  it("encrypts: the stored SHA-256 is that of the age file, and storage gets it as the payload hash", async () => {
    const { storage, puts } = recordingStorage();
    const recipient = await identityToRecipient(await generateIdentity());
    const part = await uploadBuffer({ storage, key: "m/c.age", data, recipients: [recipient] });
    const stored = await readBack(storage, "m/c.age");
    expect(stored.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(part.sha256).toBe(sha256(stored));
    expect(part.size).toBe(stored.byteLength);
    expect(part.plainSha256).toBe(sha256(data));
    expect(puts.map((p) => p.sha256)).toEqual([sha256(stored)]);
  });

  it("streams plaintext with one hash for both: stored SHA-256 = plain SHA-256 = the bytes stored", async () => {
    const { storage } = recordingStorage();
    const progress: number[] = [];
    const part = await uploadPart({ storage, key: "p/a", source: Readable.from([data.subarray(0, 7000), data.subarray(7000)]), recipients: [], onProgress: (n) => progress.push(n) });
    expect(part).toEqual({ key: "p/a", size: data.byteLength, sha256: sha256(data), plainSize: data.byteLength, plainSha256: sha256(data) });
    expect(progress.at(-1)).toBe(data.byteLength);
    expect(sha256(await readBack(storage, "p/a"))).toBe(part.sha256);
  });

  it("streams encrypted: plain and stored hashes each of their own bytes", async () => {
    const { storage } = recordingStorage();
    const recipient = await identityToRecipient(await generateIdentity());
    const part = await uploadPart({ storage, key: "p/b.age", source: Readable.from([data]), recipients: [recipient] });
    const stored = await readBack(storage, "p/b.age");
    expect(part.sha256).toBe(sha256(stored));
    expect(part.size).toBe(stored.byteLength);
    expect(part.plainSha256).toBe(sha256(data));
    expect(part.plainSize).toBe(data.byteLength);
  });
});
