import { describe, expect, it } from "vitest";
import type { Readable } from "node:stream";
import { MemoryStorage } from "./memory/memory-storage.ts";
import type { ObjectInfo, PutOptions, Storage, StoredObject } from "./storage.ts";
import { StorageLock, describeLock, listLocks } from "./storage-lock.ts";

/** A storage whose clock runs `skewMs` behind the host's: every stored time it reports is shifted. */
class SkewedStorage implements Storage {
  readonly inner = new MemoryStorage({ name: "skewed" });
  readonly location = this.inner.location;
  readonly capabilities = this.inner.capabilities;
  readonly skewMs: number;
  constructor(skewMs: number) {
    this.skewMs = skewMs;
  }
  put(key: string, body: Readable | Uint8Array | string, options?: PutOptions) {
    return this.inner.put(key, body, options);
  }
  get(key: string) {
    return this.inner.get(key);
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    const info = await this.inner.stat(key);
    return info && { ...info, lastModified: info.lastModified - this.skewMs };
  }
  async *list(prefix: string): AsyncIterable<StoredObject> {
    for await (const object of this.inner.list(prefix)) yield { ...object, lastModified: object.lastModified - this.skewMs };
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  deleteMany(keys: readonly string[]) {
    return this.inner.deleteMany(keys);
  }
  check() {
    return this.inner.check();
  }
}

describe("StorageLock", () => {
  it("stores a lock under _dr-drill/locks/<scope>/, sees the others' and deletes its own on release", async () => {
    const storage = new MemoryStorage();
    const backup = await StorageLock.acquire(storage, "media", "backup");
    const prune = await StorageLock.acquire(storage, "media", "prune");
    expect(backup.key).toMatch(/^_dr-drill\/locks\/media\/backup-\d{8}T\d{9}Z-[0-9a-f]{8}\.json$/);
    expect((await backup.others()).map((l) => [l.key, l.kind, l.live])).toEqual([[prune.key, "prune", true]]);
    expect((await prune.others()).map((l) => l.kind)).toEqual(["backup"]);
    const record = JSON.parse(Buffer.concat(await (await storage.get(backup.key)).toArray()).toString());
    expect(record).toMatchObject({ kind: "backup", scope: "media", pid: process.pid });
    await backup.release();
    await prune.release();
    expect(await listLocks(storage, "media")).toEqual([]);
  });

  it("calls a lock not rewritten for staleMs stale, and its holder stops at half that", async () => {
    const storage = new MemoryStorage();
    let clock = Date.now();
    const now = () => clock;
    const lock = await StorageLock.acquire(storage, "media", "backup", { refreshMs: 3_600_000, staleMs: 60_000, now });
    expect((await listLocks(storage, "media", { staleMs: 60_000, now }))[0]!.live).toBe(true);
    clock += 29_000;
    expect(() => lock.assertHeld()).not.toThrow();
    clock += 2_000;
    expect(() => lock.assertHeld()).toThrow(/^unable to keep the backup lock on media at 'memory:\/\/memory\/_dr-drill\/locks\/media\/backup-.*': it was last written 31 s ago$/);
    clock += 30_000;
    expect((await listLocks(storage, "media", { staleMs: 60_000, now }))[0]!.live).toBe(false);
    await lock.release();
    expect(() => lock.assertHeld()).toThrow(/it was released/);
  });

  it("keeps itself live by rewriting the lock every refreshMs", async () => {
    const storage = new MemoryStorage();
    const lock = await StorageLock.acquire(storage, "media", "prune", { refreshMs: 20 });
    const first = (await storage.stat(lock.key))!.lastModified;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect((await storage.stat(lock.key))!.lastModified).toBeGreaterThan(first);
    await lock.release();
    expect(await storage.stat(lock.key)).toBeUndefined();
  });

  it("judges liveness on the storage's clock: a storage 15 minutes behind the host leaves a running backup's lock live", async () => {
    const storage = new SkewedStorage(15 * 60_000);
    const backup = await StorageLock.acquire(storage, "media", "backup");
    const prune = await StorageLock.acquire(storage, "media", "prune");
    try {
      const seen = await prune.others();
      expect(seen.map((l) => [l.key, l.live])).toEqual([[backup.key, true]]);
      expect(seen[0]!.ageMs).toBeLessThan(5_000);
      expect(describeLock(seen[0]!)).toMatch(/\(written [0-4] s ago\)$/);
      // Without a lock of its own, a reader reads the storage's time from a probe object (and removes it).
      expect((await listLocks(storage, "media")).map((l) => l.live)).toEqual([true, true]);
      const probes: string[] = [];
      for await (const object of storage.list("_dr-drill/clock/")) probes.push(object.key);
      expect(probes).toEqual([]);
    } finally {
      await backup.release();
      await prune.release();
    }
  });

  it("still calls a lock stale after staleMs on the storage's clock, whatever the host's clock says", async () => {
    for (const skewMs of [15 * 60_000, -15 * 60_000]) {
      const storage = new SkewedStorage(skewMs);
      const crashed = await StorageLock.acquire(storage, "media", "backup", { refreshMs: 3_600_000 });
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const prune = await StorageLock.acquire(storage, "media", "prune", { staleMs: 1_000 });
      expect(await prune.others()).toEqual([]);
      expect((await listLocks(storage, "media", { staleMs: 1_000 })).map((l) => [l.kind, l.live])).toEqual([["backup", false], ["prune", true]]);
      await crashed.release();
      await prune.release();
    }
  });
});
