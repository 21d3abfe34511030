import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { encryptBuffer } from "../../crypto/age.ts";
import { sha256Hex } from "../../streams/hash-stream.ts";
import * as localDisk from "../local-disk.ts";
import { DrError } from "../../errors/index.ts";
import { type BackupManifest, makeBackupId, writeManifest } from "../../manifest/index.ts";
import { MemoryStorage } from "../../storage/index.ts";
import { pushWalFile } from "../wal/wal-push.ts";
import { segmentFileName } from "../wal/wal-names.ts";
import { restorePostgresPhysical, startupSyncSettings, type RecoveryTarget } from "./physical-restore.ts";

// The refusals of a physical restore happen before anything is downloaded: they are
// checked here on an in-memory repository holding a manifest and WAL segments. One restore
// runs to the end on a small tar, to see when the restored files are flushed to disk.

// The real functions, watched: the flush calls are the only trace a durable restore leaves.
vi.mock("../local-disk.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../local-disk.ts")>();
  return { ...real, flushWhile: vi.fn(real.flushWhile), flushFileSystem: vi.fn(real.flushFileSystem) };
});

let dir: string;
let identity: string;
let recipient: string;
const BASE_AT = new Date("2026-01-01T10:00:00.000Z");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pitr-unit-"));
  identity = await generateIdentity();
  recipient = await identityToRecipient(identity);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A repository with one base backup (WAL 3..3, stop 0/3000100) and segments 3..8 archived; `base`: the real stored part (plain tar and its age encryption). */
async function repository(compression = "none", base?: { plain: Uint8Array; stored: Uint8Array }): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  const id = makeBackupId("postgres", BASE_AT);
  const manifest: BackupManifest = {
    formatVersion: 1, id, component: "postgres", source: "postgres://postgres@db:5432/postgres",
    startedAt: BASE_AT.toISOString(), finishedAt: new Date(BASE_AT.getTime() + 5000).toISOString(), consistentAt: new Date(BASE_AT.getTime() + 4000).toISOString(),
    format: "pg_basebackup tar", compression,
    parts: [base
      ? { key: `postgres/${id.slice("postgres-".length)}/base.tar.age`, size: base.stored.length, sha256: sha256Hex(base.stored), plainSize: base.plain.length, plainSha256: sha256Hex(base.plain) }
      : { key: `postgres/${id.slice("postgres-".length)}/base.tar.age`, size: 1, sha256: "0".repeat(64), plainSize: 1, plainSha256: "0".repeat(64) }],
    storedBytes: 1, encryption: { format: "age", recipients: [] }, tools: {},
    physical: {
      serverVersion: "15.8", toolVersion: "15.8", startLsn: "0/3000028", stopLsn: "0/3000100", timeline: 1,
      startWalFile: segmentFileName(1, 3n), stopWalFile: segmentFileName(1, 3n), walSegmentBytes: 16 * 1024 * 1024, bytes: 1,
      consistentAt: new Date(BASE_AT.getTime() + 4000).toISOString(),
    },
  };
  await writeManifest(storage, manifest);
  if (base) await storage.put(manifest.parts[0]!.key, base.stored);
  for (let segment = 3n; segment <= 8n; segment += 1n) {
    const path = join(dir, segmentFileName(1, segment));
    await writeFile(path, `segment ${segment}`);
    await pushWalFile({ storage, recipients: [recipient], path });
    // Distinct store times, so a time target can fall between two segments.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return storage;
}

async function refusal(storage: MemoryStorage, target: RecoveryTarget): Promise<DrError> {
  const into = join(dir, `into-${Math.random().toString(36).slice(2)}`);
  const error = await restorePostgresPhysical({ storage, identities: [identity], into, target }).then(() => undefined, (e: unknown) => e);
  if (!(error instanceof DrError)) throw new Error(`expected a refusal, got ${String(error)}`);
  // Refused before anything was written.
  expect(await readdir(into).catch(() => "absent")).toBe("absent");
  return error;
}

describe("restore postgres --physical refusals", () => {
  it("refuses a time before the oldest base backup or after the newest WAL, naming the archive's range", async () => {
    const storage = await repository();
    const early = await refusal(storage, { kind: "time", time: new Date(BASE_AT.getTime() - 60_000) });
    expect(early.code).toBe("RESTORE_REFUSED");
    expect(early.message).toContain("is outside the archive: the archive covers 2026-01-01T10:00:04.000Z ..");
    expect(early.message).toContain("(LSN 0/3000100 .. 0/9000000)");
    const late = await refusal(storage, { kind: "time", time: new Date(Date.now() + 3_600_000) });
    expect(late.code).toBe("RESTORE_REFUSED");
    const lsn = await refusal(storage, { kind: "lsn", lsn: "0/A000000" });
    expect(lsn.message).toContain("target LSN 0/A000000 is outside the archive");
  });

  it("refuses a target past a missing segment, naming it; and a base backup whose own WAL is gone", async () => {
    const storage = await repository();
    await storage.delete(`wal/${segmentFileName(1, 5n)}.age`);
    const latest = await refusal(storage, { kind: "latest" });
    expect([latest.code, latest.message]).toEqual(["WAL_MISSING", expect.stringContaining("WAL 000000010000000000000005 is missing from the archive: recovery to the latest point would silently stop before it")]);
    const lsn = await refusal(storage, { kind: "lsn", lsn: "0/7000010" });
    expect(lsn.message).toContain("WAL 000000010000000000000005 is missing");
    // Every segment before the gap was stored before this target: recovery could not reach it.
    const newest = (await storage.stat(`wal/${segmentFileName(1, 8n)}.age`))!.lastModified;
    const time = await refusal(storage, { kind: "time", time: new Date(newest) });
    expect(time.code).toBe("WAL_MISSING");

    await storage.delete(`wal/${segmentFileName(1, 3n)}.age`);
    const base = await refusal(storage, { kind: "lsn", lsn: "0/4000000" });
    expect(base.message).toMatch(/WAL 000000010000000000000003 is missing from the archive: base backup postgres-\S+ needs it to become consistent/);
  });

  it("refuses a base backup compressed in a way it cannot undo, before writing anything", async () => {
    const error = await refusal(await repository("lz4"), { kind: "latest" });
    expect([error.code, error.message]).toEqual(["INTEGRITY_FAILED", expect.stringMatching(/^unable to restore backup 'postgres-\S+': its manifest says compression 'lz4'; a base backup is 'none' or 'zstd'$/)]);
  });

  it("refuses a folder that is not empty", async () => {
    const storage = await repository();
    const into = join(dir, "busy");
    await rm(into, { recursive: true, force: true });
    await mkdir(into);
    await writeFile(join(into, "PG_VERSION"), "15\n");
    const error = await restorePostgresPhysical({ storage, identities: [identity], into, target: { kind: "latest" } }).then(() => undefined, (e: unknown) => e as DrError);
    expect(error?.code).toBe("RESTORE_REFUSED");
    expect(await readdir(into)).toEqual(["PG_VERSION"]);
  });
});

describe("restore postgres --physical, to the end", () => {
  it("flushes the files to disk while they arrive and once more after the last one is written", async () => {
    const source = join(dir, "base-source");
    await mkdir(source, { recursive: true });
    await writeFile(join(source, "PG_VERSION"), "15\n");
    await writeFile(join(source, "postgresql.auto.conf"), "# base\n");
    const plain = (await execa("tar", ["-cf", "-", "-C", source, "."], { encoding: "buffer" })).stdout;
    const storage = await repository("none", { plain, stored: await encryptBuffer(plain, [recipient]) });
    const flushWhile = vi.mocked(localDisk.flushWhile);
    const flushFileSystem = vi.mocked(localDisk.flushFileSystem);
    flushWhile.mockClear();
    flushFileSystem.mockClear();
    // What the data directory holds when the final flush starts: it must be the whole restore.
    let atFinalFlush: string[] = [];
    const real = await vi.importActual<typeof import("../local-disk.ts")>("../local-disk.ts");
    flushFileSystem.mockImplementationOnce(async (folder, signal) => {
      atFinalFlush = (await readdir(folder)).sort();
      await real.flushFileSystem(folder, signal);
    });
    const into = join(dir, "restored");
    const result = await restorePostgresPhysical({ storage, identities: [identity], into, target: { kind: "latest" } });

    expect(await readFile(join(into, "PG_VERSION"), "utf8")).toBe("15\n");
    expect(result.walFiles).toBe(6);
    // The unpack and the WAL fetch ran inside the flush loop, on the data directory.
    expect(flushWhile).toHaveBeenCalledTimes(1);
    expect(flushWhile.mock.calls[0]![0]).toBe(into);
    // Then one flush of that folder, after recovery.signal and the settings were written.
    expect(flushFileSystem).toHaveBeenCalledTimes(1);
    expect(flushFileSystem.mock.calls[0]![0]).toBe(into);
    expect(atFinalFlush).toEqual(["PG_VERSION", "dr-drill-wal", "postgresql.auto.conf", "recovery.signal"]);
    expect(flushWhile.mock.invocationCallOrder[0]!).toBeLessThan(flushFileSystem.mock.invocationCallOrder[0]!);
    // Flushed already: the server's start-up flush asks the kernel once (a 15.8 backup, on Linux).
    const settings = (await readFile(join(into, "postgresql.auto.conf"), "utf8")).split("\n");
    expect(settings).toContain("recovery_init_sync_method = 'syncfs'");
    expect(result.settings).toContain("recovery_init_sync_method = 'syncfs'");
  });

  it("asks for syncfs at start-up only where the server has it: PostgreSQL 14 or newer, on Linux", () => {
    expect(startupSyncSettings("15.8", "linux")).toEqual(["recovery_init_sync_method = 'syncfs'"]);
    expect(startupSyncSettings("14.0", "linux")).toEqual(["recovery_init_sync_method = 'syncfs'"]);
    expect(startupSyncSettings("13.16", "linux")).toEqual([]);
    expect(startupSyncSettings("16.4", "darwin")).toEqual([]);
    expect(startupSyncSettings("unknown", "linux")).toEqual([]);
  });
});
