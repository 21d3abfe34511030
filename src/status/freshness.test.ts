import { describe, expect, it } from "vitest";
import { buildConfig } from "../config/index.ts";
import { writeManifest, type BackupManifest } from "../manifest/index.ts";
import { makeBackupId } from "../manifest/backup-id.ts";
import { MemoryStorage } from "../storage/index.ts";
import { readRecentAttempts, recordAttemptStart, pruneAttempts } from "./backup-attempts.ts";
import { readComponentStatus, staleGraceMs } from "./freshness.ts";
import { renderTextfile } from "./prometheus-textfile.ts";
import { statusMetrics } from "./status-metrics.ts";

/** A stored backup taken at `at` (a manifest and its one part). */
async function storeBackup(storage: MemoryStorage, at: Date): Promise<BackupManifest> {
  const id = makeBackupId("postgres", at);
  const key = `postgres/${id.slice("postgres-".length)}/shop.dump`;
  await storage.put(key, "dump");
  const manifest: BackupManifest = {
    formatVersion: 1, id, component: "postgres", source: "test", startedAt: at.toISOString(), finishedAt: new Date(at.getTime() + 1000).toISOString(),
    consistentAt: at.toISOString(), format: "test", compression: "none", parts: [{ key, size: 4, sha256: "", plainSize: 4, plainSha256: "" }], storedBytes: 4,
    encryption: { format: "none", recipients: [] }, tools: {},
  };
  await writeManifest(storage, manifest);
  return manifest;
}

describe("freshness", () => {
  const config = buildConfig(undefined, {});
  const hour = 3_600_000;

  it("grace is half an interval", () => {
    expect(staleGraceMs(hour)).toBe(hour / 2);
    expect(staleGraceMs(15 * 60_000)).toBe(7.5 * 60_000);
  });

  it("fresh within interval + grace, stale after, missing without a backup", async () => {
    const storage = new MemoryStorage();
    const now = new Date("2026-12-02T12:00:00Z");
    expect((await readComponentStatus(storage, config, "postgres", true, now)).verdict).toBe("missing");
    await storeBackup(storage, new Date(now.getTime() - 89 * 60_000));
    const fresh = await readComponentStatus(storage, config, "postgres", true, now);
    expect(fresh).toMatchObject({ verdict: "fresh", ok: true, ageMs: 89 * 60_000 });
    const later = await readComponentStatus(storage, config, "postgres", true, new Date(now.getTime() + 2 * 60_000));
    expect(later).toMatchObject({ verdict: "stale", ok: false });
    expect(later.problems[0]).toMatch(/^postgres: newest backup postgres-\S+ is 1h 31m old, over its interval 1h \+ grace 30m$/);
  });

  it("a failed last attempt is a problem while the newest backup is still fresh; a success clears it", async () => {
    const storage = new MemoryStorage();
    const now = new Date();
    await storeBackup(storage, new Date(now.getTime() - 60_000));
    const attempt = await recordAttemptStart(storage, "postgres", new Date(now.getTime() - 10_000));
    await attempt.finish({ error: "unable to connect to PostgreSQL 'postgres://app@db:5432/shop': ECONNREFUSED\nHINT: check it" });
    const status = await readComponentStatus(storage, config, "postgres", true, now);
    expect(status).toMatchObject({ verdict: "fresh", ok: false, lastAttemptSucceeded: false });
    expect(status.problems).toEqual([expect.stringMatching(/^postgres: last attempt \(started .*\) failed: unable to connect to PostgreSQL 'postgres:\/\/app@db:5432\/shop': ECONNREFUSED$/)]);
    const next = await recordAttemptStart(storage, "postgres", new Date(now.getTime() - 5_000));
    await next.finish({ backupId: "postgres-x" });
    expect(await readComponentStatus(storage, config, "postgres", true, now)).toMatchObject({ ok: true, lastAttemptSucceeded: true });
  });

  it("an attempt left running past interval + grace is a stalled run", async () => {
    const storage = new MemoryStorage();
    const now = new Date();
    await storeBackup(storage, new Date(now.getTime() - 60_000));
    await recordAttemptStart(storage, "postgres", new Date(now.getTime() - 2 * hour));
    const status = await readComponentStatus(storage, config, "postgres", true, now);
    expect(status.ok).toBe(false);
    expect(status.problems[0]).toMatch(/never finished: stalled or killed/);
  });

  it("not configured and empty: neutral", async () => {
    expect(await readComponentStatus(new MemoryStorage(), config, "redis", false)).toMatchObject({ verdict: "not configured", ok: true });
  });

  it("attempt records are pruned by age, keeping the newest", async () => {
    const storage = new MemoryStorage();
    const now = new Date("2026-12-02T12:00:00Z");
    for (let i = 0; i < 30; i++) await (await recordAttemptStart(storage, "redis", new Date(now.getTime() - (30 - i) * 86_400_000))).finish({ backupId: "x" });
    expect(await pruneAttempts(storage, "redis", 7 * 86_400_000, now, 20)).toBe(10);
    expect((await readRecentAttempts(storage, "redis", 100)).length).toBe(20);
  });

  it("textfile: conventional names, one family per metric, escaped labels", async () => {
    const storage = new MemoryStorage();
    await storeBackup(storage, new Date(Date.now() - 1000));
    const text = renderTextfile(statusMetrics([await readComponentStatus(storage, config, "postgres", true)]));
    expect(text).toMatch(/^# TYPE dr_drill_backup_age_seconds gauge$/m);
    expect(text).toMatch(/^dr_drill_backup_size_bytes\{component="postgres"\} 4$/m);
    expect(renderTextfile([{ name: "x", help: "h", type: "gauge", samples: [{ name: "x", labels: { s: 'a"b\\c' }, value: 1 }] }])).toContain('x{s="a\\"b\\\\c"} 1');
  });
});
