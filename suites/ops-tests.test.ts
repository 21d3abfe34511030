// The ten ops tests of the reference document plus the restore drill, on real servers
// (the target named by DR_TARGET, native by default). One drill runs first; each test then
// checks one fact of it (and some do more real work: retention, no-change sync, age CLI).
// After the last test the DR status report is written with these results.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runDrillOn, setUpDrill, type DrillSetup } from "../src/drill/rehearsal-setup.ts";
import { opsInputFor } from "../src/ops/ops-input.ts";
import type { DrillResult } from "../src/drill/drill-result.ts";
import { OPS_CHECKS, runOpsCheck, type OpsTestResult } from "../src/ops/index.ts";
import { writeReport } from "../src/report/index.ts";

let setup: DrillSetup;
let drill: DrillResult;
const results: OpsTestResult[] = [];
const runtimes = new Map<string, number>();

describe("ops tests", () => {
  beforeAll(async () => {
    setup = await setUpDrill();
    drill = await runDrillOn(setup);
  }, 600_000);

  afterEach((ctx) => {
    // vitest may not have filled in the duration yet here; then the check's own timing stands.
    const duration = ctx.task.result?.duration;
    if (duration) runtimes.set(ctx.task.name, duration);
  });

  afterAll(async () => {
    if (drill && results.length > 0) {
      await writeReport({
        dir: setup.config.report.dir,
        job: "test:ops",
        drill,
        opsTests: results.map((r) => ({ ...r, durationMs: runtimes.get(r.name) ?? r.durationMs })),
        opsSource: `vitest \`pnpm test:ops\` on target ${setup.target.kind}`,
        secrets: [setup.target.postgres.password, setup.target.redis.password, ...setup.identities],
      });
    }
    await setup?.stop();
  });

  for (const check of OPS_CHECKS) {
    it(check.name, async (ctx) => {
      const result = await runOpsCheck(check, opsInputFor(setup, drill));
      results.push(result);
      expect(result.detail.length).toBeGreaterThan(0);
      // A check the target cannot run (Object Lock on an emulator without it) is skipped
      // with its reason, like restic's credential-less tests; DR_REQUIRE_VERIFIED=1 (set by
      // CI on a target that has everything) turns that skip into a failure.
      if (result.status === "not verified" && process.env.DR_REQUIRE_VERIFIED !== "1") ctx.skip(`not verified: ${result.detail}`);
      expect(result.status, result.detail).toBe("passed");
    });
  }

  it("restore drill: every component restored and checked, RTO measured per step", () => {
    for (const component of ["postgres", "redis", "media"] as const) {
      const recovery = drill.recoveries[component];
      expect(recovery.ok, `${component}: ${recovery.error}`).toBe(true);
      expect(recovery.rtoMs).toBeGreaterThan(0);
      expect(recovery.steps.every((s) => s.status === "ok")).toBe(true);
    }
    expect(drill.recoveries.postgres.steps.map((s) => s.name)).toEqual([
      "Provision scratch PostgreSQL server",
      "Create scratch database",
      "Download and decrypt dump",
      "Restore from pg_dump",
      "Run smoke checks",
      "Cleanup",
    ]);
    expect(drill.postgresRestore?.restoredBytes).toBeGreaterThan(10e6);
    expect(drill.rates?.databaseGbPerMin).toBeGreaterThan(0);
    // The heartbeat writer's rows after the last backup are exactly what the restore lacks.
    expect(drill.rpo.lostRows).toBeGreaterThan(0);
    expect(drill.rpo.measuredLossMs).toBeGreaterThan(drill.config.objectives.rpoMs > 0 ? 1000 : 0);
    expect(drill.media?.matchesSource).toBe(true);
    expect(drill.redisComparison?.matches).toBe(true);
  });

  it("point-in-time recovery: the rows of an accidental DELETE are back, nothing after the target, loss under 5 s", () => {
    const pitr = drill.pitr;
    // Both targets: WAL streamed from the source server (a container on the containers target) over the replication protocol.
    expect(pitr?.verdict, pitr?.detail).toBe("passed");
    expect(pitr?.rowsDeleted).toBe(100);
    expect(pitr?.rowsBack).toBe(100);
    expect(pitr?.heartbeatsAfterTarget).toBe(0);
    expect(pitr?.lossMs).toBeGreaterThanOrEqual(0);
    expect(pitr?.lossMs).toBeLessThan(5000);
    expect(pitr?.walFiles).toBeGreaterThan(0);
  });

  it("the five failure scenarios: each injected its fault into its own copies and recovered within its objectives", () => {
    const scenarios = drill.scenarios ?? [];
    expect(scenarios.map((s) => s.id)).toEqual(["database-corruption", "server-failure", "redis-failure", "media-loss", "region-outage"]);
    // Both rehearsal targets: native processes, or containers of the target's images (region B its own containers).
    for (const s of scenarios) expect(s.stage).toContain(setup.target.kind === "native" ? "native copies" : "containers of");
    for (const s of scenarios) expect(s.verdict.status, `${s.id}: ${s.verdict.detail}`).toBe("passed");
    const step = (id: string, phase: string) => scenarios.find((s) => s.id === id)!.steps.filter((x) => x.phase === phase);
    // Detection is PostgreSQL's own: the damaged page fails its checksum on the application's query.
    expect(step("database-corruption", "inject").at(-1)?.detail).toMatch(/invalid page in block \d+ of relation base\/\d+\/\d+/);
    const corruption = scenarios[0]!;
    expect(corruption.paths[0]?.lostRows).toBeGreaterThan(0);
    expect(corruption.rtoMs).toBeGreaterThan(0);
    expect(corruption.steps.some((x) => x.command?.includes("RENAME TO"))).toBe(true);
    // With the WAL streamed, point-in-time recovery to just before the damage loses only what came after it.
    const [dump, pointInTime] = corruption.paths;
    expect(pointInTime?.name).toBe("Point-in-time recovery to just before the corruption");
    expect(pointInTime?.checks.find((c) => c.name === "nothing after the target")?.status).toBe("passed");
    expect(pointInTime!.rpoMs!).toBeLessThan(dump!.rpoMs!);
    // Server failure: the three restores ran at the same time (one step, three timed pieces).
    expect(step("server-failure", "recover").map((x) => x.name)).toContain("Restore PostgreSQL, Redis and media in parallel");
    expect(step("server-failure", "recover").find((x) => x.name.includes("in parallel"))?.detail).toMatch(/PostgreSQL .*; Redis .*; media \d+ files/);
    const redis = scenarios.find((s) => s.id === "redis-failure")!;
    expect(redis.paths[0]?.checks.find((c) => c.name.includes("DEBUG DIGEST"))?.status).toBe("passed");
    const region = scenarios.find((s) => s.id === "region-outage")!;
    expect(region.paths.map((p) => p.verdict.status)).toEqual(["passed", "passed"]);
    // Promoting a streaming replica loses at most the replication lag; restoring backups loses more.
    expect(region.paths[0]!.rpoMs!).toBeLessThan(5000);
    expect(region.paths[1]!.rpoMs!).toBeGreaterThan(region.paths[0]!.rpoMs!);
    expect(step("region-outage", "inject").at(-1)?.detail).toMatch(/endpoint A: .*ECONNREFUSED/);
  });
});
