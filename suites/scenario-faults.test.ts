// Each failure scenario must be able to fail: a broken recovery (a step that fails, or
// damage done to the recovered state before verification) gives ❌ with the reason, the
// drill goes on to the next scenario, and the report counts it as breached. Native target
// only: the containers target has no crashable copies (its scenarios are "not verified").
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis } from "../src/clients/index.ts";
import type { DrillResult } from "../src/drill/drill-result.ts";
import { runDrillOn, setUpDrill, type DrillSetup } from "../src/drill/rehearsal-setup.ts";
import { DATABASE_CORRUPTION_STEPS } from "../src/drill/scenarios/database-corruption.ts";
import type { MediaLossStage } from "../src/drill/scenarios/media-loss.ts";
import type { RedisFailureStage } from "../src/drill/scenarios/redis-failure.ts";
import type { ServerFailureStage } from "../src/drill/scenarios/server-failure.ts";
import { buildReport } from "../src/report/build-report.ts";

const native = (process.env.DR_TARGET ?? "native") === "native";
let setup: DrillSetup;
let drill: DrillResult;

describe.skipIf(!native)("scenario faults (native target)", () => {
  beforeAll(async () => {
    setup = await setUpDrill();
    drill = await runDrillOn(setup, {
      pitr: false,
      scenarioFaults: {
        failStep: { scenario: "database-corruption", step: DATABASE_CORRUPTION_STEPS.swap },
        afterRecovery: {
          "server-failure": (async (s: ServerFailureStage) => {
            await rm(join(s.restored!.mediaDir, (await firstFile(s.restored!.mediaDir))));
          }) as (stage: never) => Promise<void>,
          "redis-failure": (async (s: RedisFailureStage) => {
            const client = await connectRedis(s.redis.endpoint);
            // A persistent key: a missing volatile one could have expired, and only DEBUG DIGEST would tell.
            const [, keys] = await client.scan("0", "COUNT", 200);
            let victim: string | undefined;
            for (const key of keys) if (!victim && (await client.pttl(key)) === -1) victim = key;
            await client.del(victim!);
            client.disconnect();
          }) as (stage: never) => Promise<void>,
          "media-loss": (async (s: MediaLossStage) => {
            await writeFile(join(s.mediaDir, await firstFile(s.mediaDir)), "not the uploaded bytes");
          }) as (stage: never) => Promise<void>,
        },
        replicaNotStreaming: true,
        replicaMissingNewest: true,
      },
    });
  }, 600_000);
  afterAll(async () => {
    await setup?.stop();
  });

  const scenario = (id: string) => drill.scenarios!.find((s) => s.id === id)!;

  it("a recovery step that fails: the scenario is failed naming the step, the later steps did not run, the next scenarios still ran", () => {
    const corruption = scenario("database-corruption");
    expect(corruption.verdict.status).toBe("failed");
    expect(corruption.verdict.detail).toContain(`recovery step failed: ${DATABASE_CORRUPTION_STEPS.swap}: step '${DATABASE_CORRUPTION_STEPS.swap}' failed`);
    const recover = corruption.steps.filter((s) => s.phase === "recover" && s.path === corruption.paths[0]!.name);
    expect(recover.map((s) => s.status)).toEqual(["ok", "ok", "failed", "skipped"]);
    // The other path (point-in-time recovery) still ran and recovered.
    expect(corruption.paths[1]?.verdict.status, corruption.paths[1]?.verdict.detail).toBe("passed");
    expect(drill.scenarios!.map((s) => s.id)).toEqual(["database-corruption", "server-failure", "redis-failure", "media-loss", "region-outage"]);
  });

  it("server failure: a restored media file missing fails the verification", () => {
    const s = scenario("server-failure");
    expect(s.verdict.status).toBe("failed");
    expect(s.verdict.detail).toMatch(/media: every file equal to before the failure: 1 missing, 0 unexpected, 0 different/);
  });

  it("Redis: a key missing after the restore fails the manifest comparison and the digest of the keys without expiry", () => {
    const s = scenario("redis-failure");
    expect(s.verdict.status).toBe("failed");
    const checks = s.paths[0]!.checks;
    expect(checks.map((c) => c.status)).toEqual(["failed", "failed"]);
  });

  it("media: a restored file with other bytes fails the file-by-file comparison", () => {
    const s = scenario("media-loss");
    expect(s.verdict.status).toBe("failed");
    expect(s.verdict.detail).toContain("0 missing, 0 unexpected, 1 different");
  });

  it("region outage: a replica not streaming fails path 1 with the reason; path 2 restores the newest backup region B has, and its lag is reported", () => {
    const s = scenario("region-outage");
    expect(s.verdict.status).toBe("failed");
    const [promote, restore] = s.paths;
    expect(promote!.verdict.status).toBe("failed");
    expect(promote!.verdict.detail).toMatch(/the replica was not streaming when region A failed \(WAL receiver: (no WAL receiver running|\w+)\)/);
    expect(promote!.rtoMs).toBeUndefined();
    // Path 2 still ran and measured: the older dump restored, so it lost more than the newest would have.
    expect(restore!.rtoMs).toBeGreaterThan(0);
    const lag = restore!.checks.find((c) => c.name === "region B's repository had region A's newest backups")!;
    expect(lag.status).toBe("failed");
    const newestPg = drill.newest.postgres!.id;
    expect(lag.detail).toContain(`missing in region B: ${newestPg}`);
    const restoreStep = s.steps.find((x) => x.path === restore!.name && x.name.startsWith("Provision"))!;
    expect(restoreStep.detail).not.toContain(newestPg);
    expect(restore!.rpoMs).toBeGreaterThan(0);
  });

  it("the report counts every failed scenario as breached (the drill exits 1)", () => {
    const report = buildReport("drill", drill, [], "test", []);
    expect(report.overall.mark).toBe("❌");
    for (const title of ["Database corruption", "Complete server failure", "Redis cache failure", "Media file loss", "Region outage"]) {
      expect(report.overall.breached).toContain(title);
    }
  });
});

/** The first file (relative path) under a folder, depth first. */
async function firstFile(dir: string): Promise<string> {
  const { readdir } = await import("node:fs/promises");
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const file = entries.find((e) => e.isFile());
  if (!file) throw new Error(`no file under ${dir}`);
  return join(file.parentPath, file.name).slice(dir.length + 1);
}
