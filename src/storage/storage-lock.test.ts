import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./memory/memory-storage.ts";
import { StorageLock, listLocks } from "./storage-lock.ts";

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
});
