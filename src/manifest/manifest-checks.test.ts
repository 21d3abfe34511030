import { describe, expect, it } from "vitest";
import type { BackupManifest } from "./backup-manifest.ts";
import { makeBackupId } from "./backup-id.ts";
import { CLOCK_SKEW_MS, findFutureDate, findManifestProblem } from "./manifest-checks.ts";

const started = new Date("2026-11-24T03:00:26.123Z");

/** A manifest that passes every check; tests break one thing at a time. */
function goodManifest(date = started): BackupManifest {
  const id = makeBackupId("postgres", date);
  const folder = `postgres/${id.slice("postgres-".length)}/`;
  return {
    formatVersion: 1, id, component: "postgres", source: "unit", format: "test", compression: "none",
    startedAt: date.toISOString(), finishedAt: new Date(date.getTime() + 60_000).toISOString(), consistentAt: new Date(date.getTime() + 2_000).toISOString(),
    parts: [{ key: `${folder}deltacrown.dump.age`, size: 10, sha256: "a".repeat(64), plainSize: 9, plainSha256: "b".repeat(64) }],
    storedBytes: 10, encryption: { format: "age", recipients: [] }, tools: {},
  };
}

describe("findManifestProblem", () => {
  it("accepts a manifest that is its folder's", () => {
    expect(findManifestProblem(goodManifest(), goodManifest().id)).toBeUndefined();
  });

  it("rejects an old backup's manifest relabelled with a newer id: its parts and start time are the old one's", () => {
    const old = goodManifest(new Date(started.getTime() - 86_400_000));
    const newId = goodManifest().id;
    expect(findManifestProblem({ ...old, id: newId }, newId)).toBe(`it started at ${old.startedAt}, but its id says ${started.toISOString()}`);
    // Even with its times moved to the new id's, its parts still point into the old folder.
    const moved = { ...goodManifest(), parts: old.parts };
    expect(findManifestProblem(moved, newId)).toBe(`its part '${old.parts[0]!.key}' lies outside the backup's folder 'postgres/20261124T030026123Z/'`);
  });

  it("rejects times that contradict each other", () => {
    const m = goodManifest();
    expect(findManifestProblem({ ...m, finishedAt: new Date(started.getTime() - 1).toISOString() }, m.id)).toMatch(/^it finished \(.*\) before it started/);
    expect(findManifestProblem({ ...m, consistentAt: new Date(started.getTime() - CLOCK_SKEW_MS - 1).toISOString() }, m.id)).toMatch(/^its consistent point .* lies outside its run/);
    expect(findManifestProblem({ ...m, consistentAt: new Date(started.getTime() + 60_000 + CLOCK_SKEW_MS + 1).toISOString() }, m.id)).toMatch(/lies outside its run/);
    // Within the clock skew of a server: accepted.
    expect(findManifestProblem({ ...m, consistentAt: new Date(started.getTime() - 1000).toISOString() }, m.id)).toBeUndefined();
    expect(findManifestProblem({ ...m, startedAt: "yesterday" }, m.id)).toBe("its startedAt is not a time");
  });

  it("rejects another id, another component, and no parts", () => {
    const m = goodManifest();
    expect(findManifestProblem(m, makeBackupId("postgres", new Date(started.getTime() + 1)))).toMatch(/^it names backup 'postgres-20261124T030026123Z', not/);
    const redisId = makeBackupId("redis", started);
    expect(findManifestProblem({ ...m, id: redisId }, redisId)).toBe("it is a postgres manifest in a redis folder");
    expect(findManifestProblem({ ...m, parts: [] }, m.id)).toBe("it lists no parts");
  });
});

describe("findFutureDate", () => {
  const m = goodManifest();
  const finished = Date.parse(m.finishedAt);
  it("accepts times up to the clock skew ahead", () => {
    expect(findFutureDate(m, new Date(finished + 1000))).toBeUndefined();
    expect(findFutureDate(m, new Date(finished - CLOCK_SKEW_MS))).toBeUndefined();
  });
  it("flags the latest time beyond the skew, saying by how much", () => {
    expect(findFutureDate(m, new Date(finished - 3 * 3_600_000))).toBe(`dated in the future: finished ${m.finishedAt}, 3h after this machine's clock (${new Date(finished - 3 * 3_600_000).toISOString()})`);
    const consistentLate = { ...m, consistentAt: new Date(finished + 86_400_000).toISOString() };
    expect(findFutureDate(consistentLate, new Date(finished))).toMatch(/^dated in the future: consistent at .*, 1d after/);
  });
});
