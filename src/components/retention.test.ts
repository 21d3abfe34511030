import { describe, expect, it } from "vitest";
import type { BackupEntry } from "../manifest/index.ts";
import { INCOMPLETE_GRACE_MS, planRetention } from "./retention.ts";

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
