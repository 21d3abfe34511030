import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DrError } from "../errors/index.ts";
import type { Storage } from "./storage.ts";

/** A fresh, empty storage for one test, and how to tidy up after it. */
export interface ConformanceSubject {
  storage: Storage;
  cleanup(): Promise<void>;
  /**
   * Multipart uploads started and not completed or aborted. Required when the storage
   * claims `multipart`: the failure and abort tests then also prove no parts are left.
   */
  pendingUploads?: () => Promise<number>;
}

export interface ConformanceOptions {
  /**
   * Bytes a test source sends before it fails or the put is cancelled. For multipart
   * drivers make it larger than one part, so the interruption hits a started upload.
   * Default 256 KiB.
   */
  bytesBeforeInterruption?: number;
  /** Objects written for the listing tests; make it exceed the driver's page size. Default 12. */
  listCount?: number;
  /** Keys deleted at once by the deleteMany test; make it exceed the batch size. Default 9. */
  deleteCount?: number;
}

const KIB = 1024;

/**
 * The behaviour every Storage driver must have, as one vitest suite (after restic's
 * backend test suite). Each test gets a fresh storage from `makeStorage`.
 */
export function describeStorageConformance(
  name: string,
  makeStorage: () => Promise<ConformanceSubject>,
  options: ConformanceOptions = {},
): void {
  const interruptAfter = options.bytesBeforeInterruption ?? 256 * KIB;
  const listCount = options.listCount ?? 12;
  const deleteCount = options.deleteCount ?? 9;

  describe(`Storage conformance: ${name}`, () => {
    let subject: ConformanceSubject;
    let storage: Storage;

    beforeEach(async () => {
      subject = await makeStorage();
      storage = subject.storage;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    it("is reachable", async () => {
      await expect(storage.check()).resolves.toBeUndefined();
    });

    it("round-trips a buffer byte for byte and reports its size", async () => {
      const bytes = randomBytes(100 * KIB + 7);
      await expect(storage.put("round/buffer.bin", bytes)).resolves.toEqual({ size: bytes.byteLength });
      const stored = await readAll(await storage.get("round/buffer.bin"));
      expect(stored.byteLength).toBe(bytes.byteLength);
      expect(sha256(stored)).toBe(sha256(bytes));
    });

    it("round-trips a string as UTF-8", async () => {
      const text = "dr-drill ✓ ünïcødé\n";
      await expect(storage.put("round/text.txt", text)).resolves.toEqual({ size: Buffer.byteLength(text) });
      expect((await readAll(await storage.get("round/text.txt"))).toString("utf8")).toBe(text);
    });

    it("round-trips an empty object", async () => {
      await expect(storage.put("round/empty", new Uint8Array(0))).resolves.toEqual({ size: 0 });
      expect((await readAll(await storage.get("round/empty"))).byteLength).toBe(0);
      expect((await storage.stat("round/empty"))?.size).toBe(0);
    });

    it("round-trips a stream of unknown length and reports progress up to its size", async () => {
      const source = createRandomSource(interruptAfter + 12_345);
      const progress: number[] = [];
      const result = await storage.put("round/stream.bin", source.stream, { onProgress: (bytes) => progress.push(bytes) });
      expect(result.size).toBe(source.size);
      const stored = await readAll(await storage.get("round/stream.bin"));
      expect(stored.byteLength).toBe(source.size);
      expect(sha256(stored)).toBe(source.sha256());
      expect(progress.length).toBeGreaterThan(0);
      expect(Math.max(...progress)).toBe(source.size);
    });

    it("replaces an object on overwrite, metadata included", async () => {
      await storage.put("over/key", "first", { metadata: { generation: "1", extra: "x" } });
      await storage.put("over/key", "second!", { metadata: { generation: "2" } });
      expect((await readAll(await storage.get("over/key"))).toString()).toBe("second!");
      const info = await storage.stat("over/key");
      expect(info?.size).toBe(7);
      expect(info?.metadata).toEqual({ generation: "2" });
    });

    it("stats an object: size, time, metadata with lower-case names", async () => {
      const before = Date.now();
      await storage.put("stat/object", randomBytes(4321), {
        metadata: { "Backup-Id": "2024-01-01T00-00-00Z", sha256: "ab".repeat(32) },
        contentType: "application/x-tar",
      });
      const info = await storage.stat("stat/object");
      expect(info).toBeDefined();
      expect(info?.key).toBe("stat/object");
      expect(info?.size).toBe(4321);
      expect(info?.metadata).toEqual({ "backup-id": "2024-01-01T00-00-00Z", sha256: "ab".repeat(32) });
      // S3 keeps whole seconds; allow clock skew with a local server.
      expect(info?.lastModified).toBeGreaterThan(before - 5 * 60_000);
      expect(info?.lastModified).toBeLessThan(Date.now() + 5 * 60_000);
    });

    it("stats a missing object as undefined", async () => {
      await expect(storage.stat("stat/missing")).resolves.toBeUndefined();
    });

    it("fails to get a missing object with STORAGE_NOT_FOUND", async () => {
      const error = await catchError(storage.get("get/missing"));
      expect(error).toBeInstanceOf(DrError);
      expect((error as DrError).code).toBe("STORAGE_NOT_FOUND");
      expect((error as DrError).message).toBe(`unable to get object '${storage.location}get/missing': it does not exist`);
    });

    it("rejects keys that escape the root", async () => {
      for (const key of ["../escape", "a/../../escape", "/absolute", "a//b", ""]) {
        const error = await catchError(storage.put(key, "x"));
        expect(error, key).toBeInstanceOf(DrError);
        expect((error as DrError).message, key).toMatch(/^unable to use storage key '.*': it /);
      }
      expect(await collectKeys(storage, "")).toEqual([]);
    });

    it("rejects metadata S3 could not carry", async () => {
      const error = await catchError(storage.put("meta/bad", "x", { metadata: { note: "naïve" } }));
      expect((error as DrError).message).toBe("unable to store metadata 'note': the value must be printable ASCII");
      await expect(storage.stat("meta/bad")).resolves.toBeUndefined();
    });

    it(`lists ${listCount} objects under a prefix, sorted, across pages`, async () => {
      const keys = Array.from({ length: listCount }, (_, i) => `list/item-${String(i).padStart(3, "0")}`);
      const shuffled = [...keys].sort(() => Math.random() - 0.5);
      for (const [i, key] of shuffled.entries()) await storage.put(key, Buffer.alloc(i + 1, 1));
      await storage.put("list-sibling", "not under list/");
      await storage.put("other/thing", "elsewhere");

      const listed = [];
      for await (const object of storage.list("list/")) listed.push(object);
      expect(listed.map((object) => object.key)).toEqual(keys);
      for (const object of listed) {
        expect(object.size).toBe(shuffled.indexOf(object.key) + 1);
        expect(object.lastModified).toBeGreaterThan(0);
      }
      expect(await collectKeys(storage, "list")).toEqual(["list-sibling", ...keys]);
      expect(await collectKeys(storage, "")).toEqual(["list-sibling", ...keys, "other/thing"].sort());
      expect(await collectKeys(storage, "list/item-00")).toEqual(keys.slice(0, Math.min(10, listCount)));
      expect(await collectKeys(storage, "nothing/")).toEqual([]);
    });

    it("deletes one object; deleting a missing one is not an error", async () => {
      await storage.put("del/one", "1");
      await storage.put("del/two", "2");
      await storage.delete("del/one");
      await expect(storage.stat("del/one")).resolves.toBeUndefined();
      await expect(storage.delete("del/one")).resolves.toBeUndefined();
      expect(await collectKeys(storage, "del/")).toEqual(["del/two"]);
    });

    it(`deletes ${deleteCount} objects at once and leaves the rest`, async () => {
      const doomed = Array.from({ length: deleteCount }, (_, i) => `bulk/doomed-${i}`);
      for (const key of doomed) await storage.put(key, key);
      await storage.put("bulk/kept", "kept");
      await storage.deleteMany([...doomed, "bulk/never-existed"]);
      expect(await collectKeys(storage, "bulk/")).toEqual(["bulk/kept"]);
      await expect(storage.deleteMany([])).resolves.toBeUndefined();
    });

    it("stores nothing when the source stream fails midway", async () => {
      const source = createRandomSource(interruptAfter, { holdOpen: true });
      const putting = catchError(storage.put("fail/object", source.stream));
      await waitUntilInterruptible(source, subject);
      source.stream.destroy(new Error("source broke at byte " + source.sent));
      const error = await putting;
      expect(error).toBeInstanceOf(DrError);
      expect((error as DrError).code).toBe("STORAGE_FAILED");
      expect((error as DrError).message).toMatch(new RegExp(`^unable to put object '${escapeRegExp(storage.location)}fail/object': .*source broke at byte`));
      await expect(storage.stat("fail/object")).resolves.toBeUndefined();
      expect(await collectKeys(storage, "")).toEqual([]);
      if (subject.pendingUploads) expect(await subject.pendingUploads()).toBe(0);
    });

    it("keeps the old object when an overwrite fails", async () => {
      await storage.put("fail/kept", "the good copy");
      const source = createRandomSource(interruptAfter, { holdOpen: true });
      const putting = catchError(storage.put("fail/kept", source.stream));
      await waitUntilInterruptible(source, subject);
      source.stream.destroy(new Error("source broke"));
      expect(await putting).toBeInstanceOf(DrError);
      expect((await readAll(await storage.get("fail/kept"))).toString()).toBe("the good copy");
      if (subject.pendingUploads) expect(await subject.pendingUploads()).toBe(0);
    });

    it("stores nothing when the put is cancelled midway, and stops reading the source", async () => {
      const source = createRandomSource(interruptAfter, { holdOpen: true });
      const controller = new AbortController();
      const putting = catchError(storage.put("abort/object", source.stream, { signal: controller.signal }));
      await waitUntilInterruptible(source, subject);
      controller.abort(new Error("operator pressed Ctrl-C"));
      const error = await putting;
      expect(error).toBeInstanceOf(DrError);
      expect((error as DrError).message).toBe(`unable to put object '${storage.location}abort/object': the upload was cancelled`);
      expect(source.stream.destroyed).toBe(true);
      await expect(storage.stat("abort/object")).resolves.toBeUndefined();
      expect(await collectKeys(storage, "")).toEqual([]);
      if (subject.pendingUploads) expect(await subject.pendingUploads()).toBe(0);
    });

    it("stores nothing when the signal is already aborted", async () => {
      const controller = new AbortController();
      controller.abort();
      const error = await catchError(storage.put("abort/early", "never stored", { signal: controller.signal }));
      expect((error as DrError).message).toBe(`unable to put object '${storage.location}abort/early': the upload was cancelled`);
      await expect(storage.stat("abort/early")).resolves.toBeUndefined();
    });

    it("ends a download when its signal aborts", async () => {
      await storage.put("abort/download", randomBytes(512 * KIB));
      const controller = new AbortController();
      const stream = await storage.get("abort/download", { signal: controller.signal });
      const reading = readAll(stream);
      controller.abort();
      await expect(reading).rejects.toThrow();
      expect(stream.destroyed).toBe(true);
    });
  });
}

/** A random byte source that remembers its hash; with holdOpen it never ends by itself. */
interface RandomSource {
  stream: Readable;
  /** Bytes it will send before ending (or waiting, with holdOpen). */
  size: number;
  /** Bytes handed to the reader so far. */
  readonly sent: number;
  sha256(): string;
}

/** Random bytes in 64 KiB chunks, generated on demand so large sources cost no memory. */
function createRandomSource(size: number, options: { holdOpen?: boolean } = {}): RandomSource {
  const hash = createHash("sha256");
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= size) {
        if (!options.holdOpen) this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(64 * KIB, size - sent));
      sent += chunk.byteLength;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return {
    stream,
    size,
    get sent() {
      return sent;
    },
    sha256: () => hash.copy().digest("hex"),
  };
}

/**
 * Wait until the driver has read the whole source and, for multipart drivers, has a
 * multipart upload open, so the interruption hits a started upload, not an idle one.
 */
async function waitUntilInterruptible(source: RandomSource, subject: ConformanceSubject): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const readAllBytes = source.sent >= source.size;
    const uploadOpen = !subject.storage.capabilities.multipart || !subject.pendingUploads || (await subject.pendingUploads()) > 0;
    if (readAllBytes && uploadOpen) return;
    if (Date.now() > deadline) {
      throw new Error(`the driver never started the upload (read ${source.sent} of ${source.size} bytes, multipart open: ${uploadOpen})`);
    }
    await sleep(20);
  }
}

/** Read a stream to its end. Only for test-sized objects. */
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Hex SHA-256 of some bytes. */
function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The keys listed under a prefix, in listing order. */
async function collectKeys(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix)) keys.push(object.key);
  return keys;
}

/** What a promise rejected with; fails the test when it resolves. */
async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the operation to fail, but it succeeded");
}

/** Escape text for use inside a RegExp. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
