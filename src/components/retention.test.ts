import { describe, expect, it } from "vitest";
import { type BackupEntry, type BackupManifest, makeBackupId, manifestKey, mediaFileListKey, mediaObjectKey, mediaRefsKey, writeManifest } from "../manifest/index.ts";
import { MemoryStorage } from "../storage/memory/memory-storage.ts";
import { sha256Hex } from "../streams/hash-stream.ts";
import { formatRefsList, plainPart } from "./media/media-lists.ts";
import { INCOMPLETE_GRACE_MS, applyRetention, planComponentRetention, planRetention } from "./retention.ts";

const DAY = 86_400_000;
const now = new Date("2026-11-24T12:00:00Z");

function entry(daysAgo: number, status: BackupEntry["status"] = "complete"): BackupEntry {
  const date = new Date(now.getTime() - daysAgo * DAY);
  const id = `postgres-${date.toISOString().replace(/[-:.]/g, "")}`;
  return { id, component: "postgres", date, status, manifest: undefined, keys: [`postgres/${id.slice(9)}/x`], bytes: 10 };
}

describe("planRetention", () => {
  it("deletes complete backups older than retention and keeps the rest", () => {
    const entries = [entry(10), entry(8), entry(3), entry(1)];
    const plan = planRetention("postgres", entries, { retentionMs: 7 * DAY }, now);
    expect(plan.deletions.map((d) => d.id)).toEqual([entries[0]!.id, entries[1]!.id]);
    expect(plan.kept).toEqual([entries[2]!.id, entries[3]!.id]);
  });

  it("never deletes the newest good backup, however old", () => {
    const entries = [entry(30), entry(20), entry(15, "missingManifest")];
    const plan = planRetention("postgres", entries, { retentionMs: 7 * DAY }, now);
    expect(plan.kept).toEqual([entries[1]!.id]);
    expect(plan.deletions.map((d) => d.id)).toEqual([entries[0]!.id]);
  });

  it("leaves a possibly running backup alone: incomplete folders go only when old and superseded", () => {
    const fresh = { ...entry(0), status: "missingManifest" as const, date: new Date(now.getTime() - INCOMPLETE_GRACE_MS / 2) };
    const entries = [entry(9, "missingManifest"), entry(2), fresh];
    const plan = planRetention("postgres", entries, { retentionMs: 7 * DAY }, now);
    expect(plan.deletions.map((d) => d.id)).toEqual([entries[0]!.id]);
    expect(plan.deletions[0]!.reason).toContain("incomplete");
  });

  it("deletes nothing when there is no complete backup at all", () => {
    const plan = planRetention("postgres", [entry(40, "missingManifest"), entry(30, "unreadableManifest")], { retentionMs: DAY }, now);
    expect(plan.deletions).toEqual([]);
  });
});

describe("planRetention with a backup dated in the future", () => {
  const future = (daysAhead: number, status: BackupEntry["status"]) => ({ ...entry(-daysAhead), status, problem: "dated in the future: test" });

  it("keeps the real newest backup and never deletes the future-dated one", () => {
    const entries = [entry(10), entry(1 / 1440), future(365, "futureDated")];
    const plan = planRetention("postgres", entries, { retentionMs: 0 }, now);
    expect(plan.kept).toEqual([entries[1]!.id]);
    expect(plan.deletions.map((d) => d.id)).toEqual([entries[0]!.id]);
    expect(plan.held.map((h) => [h.id, h.status])).toEqual([[entries[2]!.id, "futureDated"]]);
    expect(plan.held[0]!.reason).toBe("dated in the future: test; kept for an operator to judge, never counted as the newest");
  });

  it("judges entries listed at another time by their own dates", () => {
    // Listed as complete (say, by a host whose clock ran ahead), judged here at `now`.
    const ahead = { ...entry(-2), status: "complete" as const };
    const entries = [entry(3), entry(2), ahead];
    const plan = planRetention("postgres", entries, { retentionMs: DAY }, now);
    expect(plan.kept).toEqual([entries[1]!.id]);
    expect(plan.deletions.map((d) => d.id)).toEqual([entries[0]!.id]);
    expect(plan.held[0]!.reason).toMatch(/^backup 'postgres-20261126T120000000Z' is dated in the future: its id says 2026-11-26T12:00:00.000Z/);
  });

  it("never deletes an incomplete folder whose id lies in the future", () => {
    const entries = [entry(40), future(30, "missingManifest")];
    const plan = planRetention("postgres", entries, { retentionMs: DAY }, now);
    expect(plan.deletions).toEqual([]);
    expect(plan.held.map((h) => h.status)).toEqual(["missingManifest"]);
  });
});

describe("media retention trusts only refs lists that verify", () => {
  const HOUR = 3_600_000;
  const objectKey = (text: string) => `${mediaObjectKey(sha256Hex(text))}.age`;

  /** A media snapshot made by hand: its content objects, file list, refs list and manifest. */
  async function storeSnapshot(storage: MemoryStorage, hoursAgo: number, contents: string[]): Promise<BackupManifest> {
    const started = new Date(Date.now() - hoursAgo * HOUR);
    const id = makeBackupId("media", started);
    const files = contents.map((text, i) => ({ path: `f${i}`, size: text.length, sha256: sha256Hex(text), mtimeMs: 0, key: objectKey(text) }));
    for (const text of contents) await storage.put(objectKey(text), `sealed ${text}`);
    const listText = JSON.stringify({ formatVersion: 1, id, files });
    const fileList = plainPart(mediaFileListKey(id, true), listText);
    await storage.put(fileList.key, listText);
    const refsText = formatRefsList(files);
    const refs = plainPart(mediaRefsKey(id), refsText);
    await storage.put(refs.key, refsText);
    const manifest: BackupManifest = {
      formatVersion: 1, id, component: "media", source: "unit", format: "media snapshot", compression: "none",
      startedAt: started.toISOString(), finishedAt: new Date(started.getTime() + 1000).toISOString(), consistentAt: started.toISOString(),
      parts: [fileList, refs], storedBytes: 0, encryption: { format: "age", recipients: [] }, tools: {},
    };
    await writeManifest(storage, manifest);
    return manifest;
  }

  async function objects(storage: MemoryStorage): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of storage.list("media/objects/")) keys.push(o.key);
    return keys;
  }

  const pruneAllButNewest = async (storage: MemoryStorage) =>
    await applyRetention(storage, await planComponentRetention(storage, "media", { intervalMs: HOUR, retentionMs: 0, label: "hourly" }));

  it("deletes the objects only an expired snapshot referred to", async () => {
    const storage = new MemoryStorage();
    await storeSnapshot(storage, 2, ["shared", "gone"]);
    await storeSnapshot(storage, 1, ["shared", "new"]);
    const outcome = await pruneAllButNewest(storage);
    expect(outcome.orphanNote).toBeUndefined();
    expect(await objects(storage)).toEqual([objectKey("new"), objectKey("shared")].sort());
  });

  it("deletes no object when a kept snapshot's refs list lost a line", async () => {
    const storage = new MemoryStorage();
    await storeSnapshot(storage, 2, ["shared", "gone"]);
    const newest = await storeSnapshot(storage, 1, ["shared", "new"]);
    const refs = newest.parts[1]!;
    const cut = `${objectKey("shared")}\n`;
    await storage.put(refs.key, cut);
    const before = await objects(storage);
    const outcome = await pruneAllButNewest(storage);
    expect(outcome.orphansDeleted).toBe(0);
    expect(outcome.orphanNote).toBe(`snapshot ${newest.id}'s refs list does not verify: unable to verify refs list of snapshot '${newest.id}': SHA-256 mismatch on '${refs.key}': expected ${refs.sha256} (${refs.size} bytes), got ${sha256Hex(cut)} (${cut.length} bytes); unreferenced media objects kept`);
    expect(await objects(storage)).toEqual(before);
  });

  it("deletes no object while a snapshot's manifest cannot be trusted", async () => {
    const storage = new MemoryStorage();
    const old = await storeSnapshot(storage, 2, ["shared", "gone"]);
    const newest = await storeSnapshot(storage, 1, ["shared", "new"]);
    // The newest snapshot's manifest replaced by the old one's, relabelled.
    await storage.put(manifestKey(newest.id), JSON.stringify({ ...old, id: newest.id }));
    const before = await objects(storage);
    const outcome = await pruneAllButNewest(storage);
    expect(outcome.orphanNote).toMatch(new RegExp(`^snapshot ${newest.id} has an invalid manifest \\(unable to trust manifest .*\\), so its references are unknown; unreferenced media objects kept$`));
    expect(await objects(storage)).toEqual(before);
  });
});
