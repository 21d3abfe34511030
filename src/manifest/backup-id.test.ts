import { describe, expect, it } from "vitest";
import { backupFolder, backupIdOfKey, makeBackupId, manifestKey, parseBackupId } from "./backup-id.ts";

describe("backup ids", () => {
  const date = new Date("2026-11-24T03:00:26.123Z");
  it("sort by time and round-trip", () => {
    const id = makeBackupId("postgres", date);
    expect(id).toBe("postgres-20261124T030026123Z");
    expect(parseBackupId(id)).toEqual({ component: "postgres", stamp: "20261124T030026123Z", date });
    expect(makeBackupId("postgres", new Date(date.getTime() + 1)) > id).toBe(true);
  });
  it("lays out keys per component", () => {
    expect(manifestKey("postgres-20261124T030026123Z")).toBe("postgres/20261124T030026123Z/manifest.json");
    expect(backupFolder("media-20261124T030026123Z")).toBe("media/snapshots/20261124T030026123Z/");
    expect(backupIdOfKey("redis", "redis/20261124T030026123Z/dump.rdb.age")).toBe("redis-20261124T030026123Z");
    expect(backupIdOfKey("redis", "redis/not-a-stamp/dump.rdb")).toBeUndefined();
  });
  it("rejects malformed ids", () => {
    expect(parseBackupId("postgres-yesterday")).toBeUndefined();
    expect(parseBackupId("mysql-20261124T030026123Z")).toBeUndefined();
  });
});
