import { mkdtemp, readFile, rm, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DrError } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { MemoryStorage } from "../../storage/index.ts";
import { listWalArchive, walChain } from "./wal-archive.ts";
import { planWalPrune } from "./wal-retention.ts";
import { fetchWalFile } from "./wal-fetch.ts";
import { pushWalFile } from "./wal-push.ts";
import { verifyWalArchive } from "./wal-verify.ts";
import { segmentFileName } from "./wal-names.ts";
import { drErrorOf } from "../../errors/dr-error-of.ts";

let dir: string;
let identity: string;
let recipient: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wal-unit-"));
  identity = await generateIdentity();
  recipient = await identityToRecipient(identity);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Write a small fake WAL file named like a segment and return its path. */
async function walFile(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function pushSegments(storage: MemoryStorage, timeline: number, segments: number[]): Promise<void> {
  for (const segment of segments) {
    const name = segmentFileName(timeline, BigInt(segment));
    await pushWalFile({ storage, recipients: [recipient], path: await walFile(name, `wal ${name}`) });
  }
}

function baseManifest(id: string, start: string, stop: string): BackupManifest {
  return {
    id,
    physical: { timeline: 1, startWalFile: start, stopWalFile: stop, walSegmentBytes: 16 * 1024 * 1024 },
  } as unknown as BackupManifest;
}

describe("wal push / fetch", () => {
  it("stores encrypted, accepts the same content again, refuses other content naming the segment", async () => {
    const storage = new MemoryStorage();
    const name = "000000010000000000000003";
    const first = await pushWalFile({ storage, recipients: [recipient], path: await walFile(name, "original bytes") });
    expect(first.outcome).toBe("stored");
    const stored = await storage.stat("wal/000000010000000000000003.age");
    expect(stored?.metadata["dr-drill-plain-sha256"]).toBe(first.plainSha256);
    // Encrypted: the plain bytes are not in the object.
    expect(Buffer.from(await readAll(await storage.get(first.key))).includes("original bytes")).toBe(false);

    const again = await pushWalFile({ storage, recipients: [recipient], path: await walFile(name, "original bytes") });
    expect(again.outcome).toBe("unchanged");

    const error = await pushWalFile({ storage, recipients: [recipient], path: await walFile(name, "other bytes") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).code).toBe("WAL_CONFLICT");
    expect((error as DrError).message).toContain("unable to push WAL file '000000010000000000000003'");
    // The stored object was kept.
    expect((await storage.stat(first.key))?.metadata["dr-drill-plain-sha256"]).toBe(first.plainSha256);
  });

  it("refuses names PostgreSQL never archives", async () => {
    const storage = new MemoryStorage();
    await expect(pushWalFile({ storage, recipients: [recipient], path: await walFile("notes.txt", "x") })).rejects.toThrow(/not a WAL segment/);
  });

  it("fetches and decrypts; not found is exit 1, a wrong key or a corrupt object is the other code", async () => {
    const storage = new MemoryStorage();
    const name = "000000010000000000000004";
    await pushWalFile({ storage, recipients: [recipient], path: await walFile(name, "segment four") });
    const destination = join(dir, "RECOVERYXLOG");
    await fetchWalFile({ storage, identities: [identity], name, destination });
    expect(await readFile(destination, "utf8")).toBe("segment four");

    const missing = await drErrorOf(fetchWalFile({ storage, identities: [identity], name: "000000010000000000000005", destination }));
    expect([missing.code, missing.exitCode]).toEqual(["WAL_MISSING", 1]);

    const wrongKey = await drErrorOf(fetchWalFile({ storage, identities: [await generateIdentity()], name, destination: join(dir, "other") }));
    expect([wrongKey.code, wrongKey.exitCode]).toEqual(["DECRYPTION_FAILED", 126]);

    // Replace the object with another file's encryption but keep the original metadata: the plain hash catches it.
    const other = "000000010000000000000006";
    await pushWalFile({ storage, recipients: [recipient], path: await walFile(other, "segment six") });
    const info = (await storage.stat(`wal/${name}.age`))!;
    await storage.put(`wal/${name}.age`, await readAll(await storage.get(`wal/${other}.age`)), { metadata: { "dr-drill-plain-sha256": info.metadata["dr-drill-plain-sha256"]! } });
    const corrupt = await drErrorOf(fetchWalFile({ storage, identities: [identity], name, destination: join(dir, "corrupt") }));
    expect([corrupt.code, corrupt.exitCode]).toEqual(["INTEGRITY_FAILED", 126]);
    // Nothing half-written is left beside the destination.
    expect((await readdir(dir)).filter((f) => f.endsWith(".dr-drill-tmp"))).toEqual([]);
  });
});

describe("wal verify", () => {
  it("names every gap by segment range and marks a base backup whose own WAL is missing", async () => {
    const storage = new MemoryStorage();
    await pushSegments(storage, 1, [2, 3, 4, 7, 8, 10]);
    const report = await verifyWalArchive({
      storage,
      identities: [identity],
      backups: [baseManifest("postgres-20260101T000000000Z", segmentFileName(1, 2n), segmentFileName(1, 3n)), baseManifest("postgres-20260102T000000000Z", segmentFileName(1, 7n), segmentFileName(1, 9n))],
    });
    expect(report.gaps.map((g) => g.range)).toEqual(["000000010000000000000005..000000010000000000000006", "000000010000000000000009"]);
    expect(report.backups.map((b) => b.status)).toEqual(["complete", "missingWal"]);
    expect(report.backups[1]!.missing.map((g) => g.range)).toEqual(["000000010000000000000009"]);
    expect(report.newest?.name).toBe("00000001000000000000000A");
    expect(report.ok).toBe(false);
  });

  it("is clean for a continuous archive and follows a timeline switch through its .history file", async () => {
    const storage = new MemoryStorage();
    await pushSegments(storage, 1, [2, 3, 4]);
    // Timeline 2 began at 0/5000100: its copy of segment 5 holds timeline 1's part too.
    await pushWalFile({ storage, recipients: [recipient], path: await walFile("00000002.history", "1\t0/5000100\tno recovery target specified\n") });
    await pushSegments(storage, 2, [5, 6]);
    const backups = [baseManifest("postgres-20260101T000000000Z", segmentFileName(1, 2n), segmentFileName(1, 3n))];
    const clean = await verifyWalArchive({ storage, identities: [identity], backups });
    expect(clean.gaps).toEqual([]);
    expect(clean.ok).toBe(true);
    expect(clean.timelines).toEqual([1, 2]);

    await storage.delete(`wal/${segmentFileName(2, 5n)}.age`);
    const broken = await verifyWalArchive({ storage, identities: [identity], backups });
    expect(broken.gaps.map((g) => g.range)).toEqual(["000000020000000000000005"]);

    // Without the key the switch cannot be read: reported, not silently passed.
    const keyless = await verifyWalArchive({ storage, identities: [], backups });
    expect(keyless.ok).toBe(false);
    expect(keyless.notVerified.join()).toContain(".history");
  });

  it("chains ranges across several switches", () => {
    const histories = new Map([[3, [{ parent: 1, switchLsn: 0x3000000n }, { parent: 2, switchLsn: 0x5800000n }]]]);
    expect(walChain(1, 1n, histories)).toEqual([
      { timeline: 1, first: 1n, last: 2n },
      { timeline: 2, first: 3n, last: 4n },
      { timeline: 3, first: 5n, last: undefined },
    ]);
    expect(walChain(2, 4n, histories)).toEqual([{ timeline: 2, first: 4n, last: 4n }, { timeline: 3, first: 5n, last: undefined }]);
  });
});

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe("wal retention", () => {
  it("deletes only what precedes the oldest kept base backup's start segment, never .history files, nothing without a base", async () => {
    const storage = new MemoryStorage();
    await pushSegments(storage, 1, [1, 2, 3, 4, 5]);
    await pushWalFile({ storage, recipients: [recipient], path: await walFile("00000002.history", "1\t0/5000000\tx\n") });
    await pushWalFile({ storage, recipients: [recipient], path: await walFile("000000010000000000000002.00000028.backup", "label") });
    const archive = await listWalArchive(storage);
    expect(planWalPrune(archive, [])).toEqual({ keys: [], keepFrom: undefined });
    const plan = planWalPrune(archive, [baseManifest("postgres-20260102T000000000Z", segmentFileName(1, 4n), segmentFileName(1, 4n)), baseManifest("postgres-20260101T000000000Z", segmentFileName(1, 3n), segmentFileName(1, 3n))]);
    expect(plan.keepFrom).toBe(segmentFileName(1, 3n));
    expect(plan.keys).toEqual(["wal/000000010000000000000001.age", "wal/000000010000000000000002.00000028.backup.age", "wal/000000010000000000000002.age"]);
  });
});
