import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { isDrError, type DrError } from "../errors/index.ts";
import { MemoryStorage } from "../storage/memory/memory-storage.ts";
import { sha256Hex } from "../streams/hash-stream.ts";
import type { BackupManifest } from "./backup-manifest.ts";
import { backupFolder, makeBackupId, manifestKey } from "./backup-id.ts";
import { MANIFEST_DIGEST_METADATA, findLatestBackup, listBackups, listCompleteBackups, listCompleteDumps, readManifest, writeManifest } from "./manifest-store.ts";

const now = new Date("2026-11-24T12:00:00.000Z");
const HOUR = 3_600_000;

/** A minimal backup of `hoursAgo` (negative: in the future), with its one part stored. */
async function storeBackup(storage: MemoryStorage, hoursAgo: number, extra: Partial<BackupManifest> = {}): Promise<BackupManifest> {
  const started = new Date(now.getTime() - hoursAgo * HOUR);
  const id = makeBackupId("postgres", started);
  const key = `${backupFolder(id)}data.dump`;
  await storage.put(key, `dump ${id}`);
  const manifest: BackupManifest = {
    formatVersion: 1, id, component: "postgres", source: "unit", format: "test", compression: "none",
    startedAt: started.toISOString(), finishedAt: new Date(started.getTime() + 60_000).toISOString(), consistentAt: started.toISOString(),
    parts: [{ key, size: 1, sha256: "", plainSize: 1, plainSha256: "" }], storedBytes: 1, encryption: { format: "none", recipients: [] }, tools: {},
    ...extra,
  };
  await writeManifest(storage, manifest);
  return manifest;
}

async function errorOf(promise: Promise<unknown>): Promise<DrError> {
  try {
    await promise;
  } catch (error) {
    if (isDrError(error)) return error;
    throw error;
  }
  throw new Error("expected a DrError");
}

describe("manifest store", () => {
  it("stores the manifest's SHA-256 with it and reads it back as complete", async () => {
    const storage = new MemoryStorage();
    const m = await storeBackup(storage, 1);
    const body = await buffer(await storage.get(manifestKey(m.id)));
    expect((await storage.stat(manifestKey(m.id)))!.metadata[MANIFEST_DIGEST_METADATA]).toBe(sha256Hex(body));
    expect(await readManifest(storage, m.id)).toEqual(m);
    expect((await listBackups(storage, "postgres", now)).map((e) => e.status)).toEqual(["complete"]);
  });

  it("sets aside the newest manifest replaced by an old one relabelled with its id, and falls back to the real older one", async () => {
    const storage = new MemoryStorage();
    const old = await storeBackup(storage, 48);
    const middle = await storeBackup(storage, 24);
    const newest = await storeBackup(storage, 1);
    // The swap: the old manifest, its id rewritten, put where the newest one was (metadata kept, as a copy would).
    const info = (await storage.stat(manifestKey(newest.id)))!;
    const forged = `${JSON.stringify({ ...old, id: newest.id }, null, 2)}\n`;
    await storage.put(manifestKey(newest.id), forged, { metadata: info.metadata });
    const entries = await listBackups(storage, "postgres", now);
    expect(entries.map((e) => e.status)).toEqual(["complete", "complete", "invalidManifest"]);
    expect(entries[2]!.problem).toBe(`unable to trust manifest of backup '${newest.id}': its SHA-256 ${sha256Hex(forged)} is not the ${info.metadata[MANIFEST_DIGEST_METADATA]} recorded when it was written: it was altered or replaced`);
    expect((await findLatestBackup(storage, "postgres", now)).id).toBe(middle.id);
    const err = await errorOf(readManifest(storage, newest.id));
    expect(err.code).toBe("INTEGRITY_FAILED");
    expect(err.message).toBe(entries[2]!.problem);
    expect(err.hint).toContain("do not restore from this backup");

    // With the digest forged too, the parts still lie in the old backup's folder.
    await storage.put(manifestKey(newest.id), forged, { metadata: { ...info.metadata, [MANIFEST_DIGEST_METADATA]: sha256Hex(forged) } });
    const again = await listBackups(storage, "postgres", now);
    expect(again[2]!.status).toBe("invalidManifest");
    expect(again[2]!.problem).toBe(`unable to trust manifest of backup '${newest.id}': it started at ${old.startedAt}, but its id says ${newest.startedAt}`);
    expect((await listCompleteBackups(storage, "postgres", now)).map((m) => m.id)).toEqual([old.id, middle.id]);
  });

  it("lists the dumps a logical restore can use: complete backups without the physical base backups, oldest first", async () => {
    const storage = new MemoryStorage();
    const physical = { serverVersion: "15.18", toolVersion: "15.18", startLsn: "0/2000028", stopLsn: "0/2000100", timeline: 1, startWalFile: "000000010000000000000002", stopWalFile: "000000010000000000000002", walSegmentBytes: 16 * 1024 * 1024, bytes: 1, consistentAt: now.toISOString() };
    const oldDump = await storeBackup(storage, 30);
    await storeBackup(storage, 20, { physical });
    const newDump = await storeBackup(storage, 10);
    await storeBackup(storage, 2, { physical });
    expect((await listCompleteBackups(storage, "postgres", now)).length).toBe(4);
    expect((await listCompleteDumps(storage, "postgres", now)).map((m) => m.id)).toEqual([oldDump.id, newDump.id]);
  });

  it("treats a manifest stored without its SHA-256 as invalid", async () => {
    const storage = new MemoryStorage();
    const m = await storeBackup(storage, 1);
    await storage.put(manifestKey(m.id), `${JSON.stringify(m, null, 2)}\n`);
    const [entry] = await listBackups(storage, "postgres", now);
    expect(entry!.status).toBe("invalidManifest");
    expect(entry!.problem).toContain(`its object carries no SHA-256 (metadata '${MANIFEST_DIGEST_METADATA}')`);
  });

  it("never takes a future-dated backup for the latest", async () => {
    const storage = new MemoryStorage();
    await storeBackup(storage, 2);
    const real = await storeBackup(storage, 1 / 60);
    const future = await storeBackup(storage, -24 * 365);
    const entries = await listBackups(storage, "postgres", now);
    expect(entries.map((e) => e.status)).toEqual(["complete", "complete", "futureDated"]);
    expect(entries[2]!.problem).toBe(`backup '${future.id}' is dated in the future: finished ${future.finishedAt}, 365d 1m after this machine's clock (${now.toISOString()})`);
    expect((await findLatestBackup(storage, "postgres", now)).id).toBe(real.id);
    expect((await listCompleteBackups(storage, "postgres", now)).map((m) => m.id)).not.toContain(future.id);
    // Named explicitly, it is still readable (verify then reports its dates).
    expect((await readManifest(storage, future.id)).id).toBe(future.id);
  });

  it("says what was set aside when no backup is complete", async () => {
    const storage = new MemoryStorage();
    const future = await storeBackup(storage, -48);
    const err = await errorOf(findLatestBackup(storage, "postgres", now));
    expect(err.message).toBe(`unable to find latest postgres backup in '${storage.location}': there are no complete backups (set aside: ${future.id} futureDated)`);
    expect(err.hint).toContain("'dr-drill list' shows why");
  });

  it("refuses to write a manifest that would be read back as invalid", async () => {
    const storage = new MemoryStorage();
    const m = await storeBackup(storage, 1);
    const other = makeBackupId("postgres", new Date(now.getTime() - 5 * HOUR));
    const err = await errorOf(writeManifest(storage, { ...m, id: other }));
    expect(err.code).toBe("BACKUP_FAILED");
    expect(err.message).toBe(`unable to write manifest of backup '${other}': it started at ${m.startedAt}, but its id says ${new Date(now.getTime() - 5 * HOUR).toISOString()}`);
    expect(await storage.stat(manifestKey(other))).toBeUndefined();
  });
});
