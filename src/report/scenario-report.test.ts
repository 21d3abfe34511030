import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildConfig, type ScenarioId } from "../config/index.ts";
import type { DrillResult, RecoveryResult } from "../drill/drill-result.ts";
import type { PathResult, ScenarioResult, ScenarioStepResult } from "../drill/scenarios/scenario.ts";
import { renderTextfile } from "../status/prometheus-textfile.ts";
import { buildReport, buildScenarios } from "./build-report.ts";
import { SCENARIO_IDS } from "../config/index.ts";
import { drillMetrics } from "./drill-metrics.ts";
import { renderMarkdown } from "./render-markdown.ts";
import { writeReport } from "./write-report.ts";

const config = buildConfig({}, { DR_TARGET: "native" });
const T0 = Date.parse("2026-12-02T03:00:00.000Z");

function step(phase: ScenarioStepResult["phase"], name: string, durationMs: number, extra: Partial<ScenarioStepResult> = {}): ScenarioStepResult {
  return { phase, name, startedAt: T0, durationMs, status: "ok", detail: `${name} done`, ...extra };
}

function path(name: string, rtoMs: number | undefined, rpoMs: number | undefined, extra: Partial<PathResult> = {}): PathResult {
  return {
    name,
    verdict: { status: "passed", detail: `RPO ${rpoMs} ms, RTO ${rtoMs} ms` },
    rtoMs,
    rpoMs,
    rpoBasis: "heartbeats lost",
    checks: [{ name: "smoke checks", status: "passed", detail: "5/5 passed" }],
    ...extra,
  };
}

/** A scenario result as the runner returns it (judged there). */
function scenario(id: ScenarioId, title: string, extra: Partial<ScenarioResult>): ScenarioResult {
  return {
    id,
    title,
    fault: `fault of ${id}`,
    symptom: `symptom of ${id}`,
    objective: config.objectives.scenarios[id],
    verdict: { status: "passed", detail: "all good" },
    failureAt: new Date(T0 + 10_000).toISOString(),
    paths: [],
    steps: [],
    durationMs: 30_000,
    stage: "native stage on 127.0.0.1",
    ...extra,
  };
}

const corruption = scenario("database-corruption", "Database corruption", {
  rpoMs: 1200,
  rtoMs: 4500,
  paths: [path("restore into shop_new and swap", 4500, 1200, { lostRows: 3 })],
  steps: [
    step("prepare", "Prepare: copies of the source for 'database-corruption'", 800),
    step("inject", "Corrupt a page of dr_heartbeat on disk", 120),
    step("inject", "Detect: the application's query fails", 40, { detail: "ERROR: invalid page in block 3 of relation base/16384/16400" }),
    step("recover", "Restore the newest backup into shop_new", 3100, { path: "restore into shop_new and swap", command: "PGPASSWORD=... dr-drill restore postgres --latest --into postgres://postgres@127.0.0.1:5433/shop_new" }),
    step("recover", "Swap the databases", 60, { path: "restore into shop_new and swap", command: "psql -c 'ALTER DATABASE shop RENAME TO shop_corrupted' -c 'ALTER DATABASE shop_new RENAME TO shop'" }),
    step("verify", "Verify: restore into shop_new and swap", 300, { path: "restore into shop_new and swap" }),
  ],
});

const serverFailure = scenario("server-failure", "Complete server failure", {
  verdict: { status: "failed", detail: "new server set: recovery step failed: Restore PostgreSQL on the new server: pg_restore exited with code 1" },
  paths: [path("new server set", undefined, undefined, { verdict: { status: "failed", detail: "recovery step failed: Restore PostgreSQL on the new server: pg_restore exited with code 1" }, checks: [], rpoBasis: undefined })],
  steps: [
    step("inject", "Kill PostgreSQL and Redis (SIGKILL), delete their data and the media folder", 200),
    step("recover", "Provision a new server set", 900, { path: "new server set", command: "dr-drill seed --target native" }),
    step("recover", "Restore PostgreSQL on the new server", 700, { path: "new server set", status: "failed", detail: "pg_restore exited with code 1", command: "dr-drill restore postgres --latest --into postgres://postgres@NEWHOST:5432/shop" }),
    step("recover", "Application writes again", 0, { path: "new server set", status: "skipped", detail: "not run: 'Restore PostgreSQL on the new server' failed" }),
  ],
});

// Judged failed by its runner (a DEBUG DIGEST mismatch) though its RPO and RTO are far within the objective.
const redisFailure = scenario("redis-failure", "Redis cache failure", {
  verdict: { status: "failed", detail: "restore the RDB: DEBUG DIGEST: differs from the manifest's" },
  rpoMs: 1000,
  rtoMs: 2000,
  paths: [path("restore the RDB", 2000, 1000, {
    rpoBasis: "the restored RDB's age at the failure",
    verdict: { status: "failed", detail: "DEBUG DIGEST: differs from the manifest's" },
    checks: [{ name: "keys, types, TTLs", status: "passed", detail: "120 keys" }, { name: "DEBUG DIGEST", status: "failed", detail: "differs from the manifest's" }],
  })],
  steps: [step("recover", "Restore dump.rdb into the data directory", 900, { path: "restore the RDB", command: "dr-drill restore redis --latest --into /var/lib/redis" })],
});

const mediaLoss = scenario("media-loss", "Media file loss", {
  verdict: { status: "not verified", detail: "writable-source: the source is read only" },
  failureAt: undefined,
});

const regionOutage = scenario("region-outage", "Region outage", {
  rpoMs: 0,
  rtoMs: 3000,
  paths: [
    path("promote the replica in region B", 3000, 0, { lostRows: 0 }),
    path("restore region B's backups on a new server", 25_000, 40_000, { rpoBasis: "the restored backup's age at the failure" }),
  ],
  steps: [
    step("inject", "Stop region A (primary killed, endpoint A stopped)", 300),
    step("recover", "Promote the replica", 1100, { path: "promote the replica in region B", command: "psql -h REPLICA -c 'SELECT pg_promote()'" }),
    step("recover", "Point the application at region B", 50, { path: "promote the replica in region B" }),
    step("recover", "Restore PostgreSQL from region B's repository", 21_000, { path: "restore region B's backups on a new server", command: "dr-drill restore postgres --repo replica --latest --into postgres://postgres@REGION_B:5432/shop" }),
  ],
});

function recovery(component: RecoveryResult["component"], rtoMs: number): RecoveryResult {
  return { component, configured: true, backupId: `${component}-20261202T025900000Z`, restoredConsistentAt: new Date(T0 - 60_000).toISOString(), skipped: [], steps: [], rtoMs, ok: true };
}

/** A rehearsal that ran the given scenarios (undefined: a drill of existing backups). */
function drillWith(scenarios: ScenarioResult[] | undefined, pitr = true): DrillResult {
  return {
    mode: scenarios ? "rehearsal" : "existing",
    components: ["postgres", "redis", "media"],
    startedAt: new Date(T0).toISOString(),
    finishedAt: new Date(T0 + 90_000).toISOString(),
    target: { kind: "native", postgres: "postgres://postgres@127.0.0.1:5432/shop", redis: "redis://127.0.0.1:6379", s3: "http://127.0.0.1:9000" },
    config: { objectives: config.objectives, schedule: config.schedule, postgres: config.postgres, media: config.media, report: config.report, smoke: config.smoke },
    keySource: "generated for this run",
    storageLocation: "s3://dr-drill-test/",
    storageCapabilities: { versioning: true, objectLock: true },
    seed: undefined,
    backups: [],
    newest: {},
    backupErrors: [],
    backupDurations: {},
    phases: [],
    failureAt: new Date(T0 + 10_000).toISOString(),
    sourceLastHeartbeat: undefined,
    heartbeatRows: 40,
    recoveries: { postgres: recovery("postgres", 6000), redis: recovery("redis", 1500), media: recovery("media", 800) },
    postgresRestore: undefined,
    restoredLastHeartbeat: undefined,
    smoke: [],
    redisComparison: undefined,
    media: undefined,
    verify: [],
    rpo: { worstCaseMs: 60_000, newestBackupAgeMs: 70_000, measuredLossMs: 900, lostRows: 2 },
    sizeRange: undefined,
    rates: undefined,
    projection: undefined,
    ...(scenarios ? { scenarios } : {}),
    ...(pitr ? { pitr: { verdict: "passed" as const, detail: "100/100 rows back", lossMs: 400, rtoMs: 5000, rowsBack: 100, rowsDeleted: 100, steps: [] } } : {}),
    storageBytes: { total: 0, byComponent: { postgres: 0, redis: 0, media: 0 } },
  };
}

const mixed = [corruption, serverFailure, redisFailure, mediaLoss, regionOutage];

describe("report of the failure scenarios (renders the runner's verdicts)", () => {
  it("one row per scenario in the runbook's order, its mark from its verdict, then the PITR row", () => {
    const rows = buildScenarios(drillWith(mixed));
    expect(rows.map((r) => [r.id, r.scenario, r.mark, r.status])).toEqual([
      ["database-corruption", "Database corruption", "✅", "MEETS"],
      ["server-failure", "Complete server failure", "❌", "FAILED"],
      ["redis-failure", "Redis cache failure", "❌", "FAILED"],
      ["media-loss", "Media file loss", "⚠️", "NOT VERIFIED"],
      ["region-outage", "Region outage", "✅", "MEETS"],
      [undefined, "Accidental DELETE (point-in-time recovery)", "✅", "MEETS"],
    ]);
    expect(rows[0]).toMatchObject({ rpoTarget: "<1h", rtoTarget: "<15m", rpoMs: 1200, rtoMs: 4500, measured: "RPO: 1.2s (3 heartbeat rows lost), RTO: 4.5s" });
    expect(rows[1]!.measured).toBe("not recovered — new server set: recovery step failed: Restore PostgreSQL on the new server: pg_restore exited with code 1");
    expect(rows[3]).toMatchObject({ rpoTarget: "<1d", rtoTarget: "<1h", measured: "not verified: writable-source: the source is read only" });
    // Both recovery paths of the region outage, each with its own RTO.
    expect(rows[4]!.measured).toBe("promote the replica in region B: RPO: 0ms (0 heartbeat rows lost), RTO: 3.0s; restore region B's backups on a new server: RPO: 40.0s (the restored backup's age at the failure), RTO: 25.0s");
    expect(rows[4]).toMatchObject({ rpoTarget: "<1d", rtoTarget: "<2h", rtoMs: 3000 });
  });

  it("does not judge again: failed within the objective stays ❌, passed over it stays ✅", () => {
    const rows = buildScenarios(drillWith(mixed));
    const redis = rows.find((r) => r.id === "redis-failure")!;
    expect(redis.rtoMs! <= redis.rtoTargetMs! && redis.rpoMs! <= redis.rpoTargetMs!).toBe(true);
    expect([redis.mark, redis.status]).toEqual(["❌", "FAILED"]);
    expect(redis.measured).toContain("DEBUG DIGEST: differs from the manifest's");
    const slowButPassed = scenario("media-loss", "Media file loss", { rtoMs: 7_200_000, rpoMs: 0, paths: [path("restore the snapshot", 7_200_000, 0)] });
    expect(buildScenarios(drillWith([slowButPassed])).find((r) => r.id === "media-loss")!.mark).toBe("✅");
    // The runner said failed with every check passed and the recovery finished: the objective was breached.
    const breached = scenario("database-corruption", "Database corruption", { verdict: { status: "failed", detail: "RTO: 20m 0s (objective <15m)" }, rtoMs: 1_200_000, rpoMs: 10, paths: [path("swap", 1_200_000, 10)] });
    expect(buildScenarios(drillWith([breached]))[0]).toMatchObject({ mark: "❌", status: "BREACHED" });
  });

  it("overall: failing names the scenarios; all five passing reads 5/5 scenarios verified", () => {
    const failing = buildReport("drill", drillWith(mixed), [], "test", []);
    expect(failing.overall).toMatchObject({ mark: "❌", label: "FAILING (2 breached: Complete server failure, Redis cache failure)" });
    const allPass = [corruption, scenario("server-failure", "Complete server failure", { paths: [path("new server set", 9000, 1000)], rtoMs: 9000, rpoMs: 1000 }), { ...redisFailure, verdict: { status: "passed" as const, detail: "ok" } }, { ...mediaLoss, verdict: { status: "passed" as const, detail: "ok" }, paths: [path("restore the snapshot", 700, 0)] }, regionOutage];
    expect(buildReport("drill", drillWith(allPass), [], "test", []).overall).toMatchObject({ mark: "✅", label: "OPERATIONAL (5/5 scenarios verified, point-in-time recovery verified)" });
    expect(buildReport("drill", drillWith(allPass, false), [], "test", []).overall.label).toBe("OPERATIONAL (5/5 scenarios verified)");
  });

  it("a subset (--scenario): the others are shown as not run, neutral, and counted apart", () => {
    const report = buildReport("drill", drillWith([corruption], false), [], "test", []);
    expect(report.scenarios.map((r) => [r.scenario, r.mark, r.status])).toEqual([
      ["Database corruption", "✅", "MEETS"],
      ["server-failure", "➖", "NOT RUN"],
      ["redis-failure", "➖", "NOT RUN"],
      ["media-loss", "➖", "NOT RUN"],
      ["region-outage", "➖", "NOT RUN"],
    ]);
    expect(report.overall.label).toBe("OPERATIONAL (1/1 scenarios verified, 4 not run)");
    const markdown = renderMarkdown(report);
    expect(markdown).toContain("**Overall Assessment**: **1/1 scenarios meet targets** (4 not run)  ");
    expect(markdown).toContain("| **region-outage** | <1d | <2h | not run in this drill (it ran database-corruption; `dr-drill drill --scenario region-outage` runs it) | ➖ NOT RUN |");
    expect(markdown).toContain("### Failure Scenario 5: Region Outage\n\n**Status**: not run in this drill (`dr-drill drill --scenario region-outage` runs it");
    expect(report.recommendations.join("\n")).toContain("**Test multi-region failover**: not run in this drill (it ran database-corruption; `dr-drill drill --scenario region-outage` runs it).");
  });

  it("recommendations: the failing step and its reason; no multi-region reminder once the region outage passed", () => {
    const recs = buildReport("drill", drillWith(mixed), [], "test", []).recommendations;
    expect(recs).toContain("**Fix complete server failure recovery**: new server set: recovery step failed: Restore PostgreSQL on the new server: pg_restore exited with code 1; objective RPO <1h / RTO <30m.");
    expect(recs).toContain("**Fix redis cache failure recovery**: restore the RDB: DEBUG DIGEST: differs from the manifest's; objective RPO <15m / RTO <5m.");
    expect(recs).toContain("**Media file loss not verified**: writable-source: the source is read only.");
    expect(recs.join("\n")).not.toContain("Test multi-region failover");
    // A verdict whose detail does not name the step: the recommendation names it.
    const terse = { ...serverFailure, verdict: { status: "failed" as const, detail: "the recovery did not finish" } };
    expect(buildReport("drill", drillWith([terse]), [], "test", []).recommendations).toContain("**Fix complete server failure recovery**: the recovery did not finish (step 'Restore PostgreSQL on the new server' failed: pg_restore exited with code 1); objective RPO <1h / RTO <30m.");
    const notVerified = { ...regionOutage, verdict: { status: "not verified" as const, detail: "server-copies: the containers sandbox has no second region" }, paths: [], steps: [] };
    expect(buildReport("drill", drillWith([notVerified]), [], "test", []).recommendations).toContain("**Test multi-region failover**: the region outage scenario was not verified: server-copies: the containers sandbox has no second region.");
  });

  it("a rehearsal told to run no scenario (--scenario none) shows each as not run, never as a pass", () => {
    const report = buildReport("drill", { ...drillWith(mixed), scenarios: [] }, [], "test", []);
    expect(report.scenarios.slice(0, 5).map((r) => [r.id, r.status])).toEqual(SCENARIO_IDS.map((id) => [id, "NOT RUN"]));
    expect(report.scenarios[0]!.measured).toBe("not run in this drill (--scenario none; `dr-drill drill --scenario database-corruption` runs it)");
    expect(report.scenarios.filter((r) => r.mark === "✅").map((r) => r.scenario)).toEqual(["Accidental DELETE (point-in-time recovery)"]);
  });

  it("a drill of existing backups (no scenario possible) keeps the restore-proof rows and the multi-region reminder", () => {
    for (const drill of [drillWith(undefined)]) {
      const report = buildReport("drill", drill, [], "test", []);
      expect(report.scenarios.map((r) => [r.scenario, r.status])).toEqual([
        ["Database corruption", "MEETS"],
        ["Complete server failure", "MEETS"],
        ["Region outage", "NOT VERIFIED"],
        ["Accidental DELETE (point-in-time recovery)", "MEETS"],
        ["Redis cache failure", "MEETS"],
        ["Media file loss", "MEETS"],
      ]);
      expect(report.scenarios[2]!.measured).toBe("Not tested (requires a second region)");
      expect(report.overall.label).toBe("OPERATIONAL (5/6 scenarios verified)");
      expect(report.recommendations).toContain("**Test multi-region failover**: region outage is not covered by this drill (it needs a second region and a replica).");
      const markdown = renderMarkdown(report);
      expect(markdown).not.toContain("## Failure Scenarios");
      expect(markdown).toContain("### Failure Scenario 5: Region Outage\n\n**Status**: ⚠️ **NOT VERIFIED** (requires a second region: replicate the bucket and promote a replica).");
    }
  });

  it("markdown: a section per scenario with fault, symptom, verdict, objective vs measured per path, checks and steps", () => {
    const markdown = renderMarkdown(buildReport("drill", drillWith(mixed), [], "test", []));
    expect(markdown).toContain("## Restore Drill Results");
    const section = markdown.slice(markdown.indexOf("## Failure Scenarios"), markdown.indexOf("## Operational Tests"));
    expect(markdown.indexOf("## Restore Drill Results")).toBeLessThan(markdown.indexOf("## Failure Scenarios"));
    expect(section).toContain("### Scenario 1: Database corruption\n\n**Fault injected**: fault of database-corruption  \n**Symptom**: symptom of database-corruption  \n**Verdict**: ✅ MEETS — all good  \n**Objective**: RPO <1h, RTO <15m  ");
    expect(section).toContain("| restore into shop_new and swap | <1h | 1.2s | heartbeats lost | 3 | <15m | 4.5s | ✅ RPO 1200 ms, RTO 4500 ms |");
    expect(section).toContain("| 3 | inject |  | Detect: the application's query fails | 40ms | ✅ ERROR: invalid page in block 3 of relation base/16384/16400 |");
    expect(section).toContain("| 4 | recover | new server set | Application writes again | 0ms | ⚠️ not run: 'Restore PostgreSQL on the new server' failed |");
    expect(section).toContain("**Verdict**: ❌ FAILED — restore the RDB: DEBUG DIGEST: differs from the manifest's");
    expect(section).toContain("| restore the RDB | DEBUG DIGEST | ❌ failed | differs from the manifest's |");
    expect(section).toContain("**Verdict**: ⚠️ NOT VERIFIED — writable-source: the source is read only");
    expect(section).toContain("| promote the replica in region B | <1d | 0ms | heartbeats lost | 0 | <2h | 3.0s |");
    expect(section).toContain("| restore region B's backups on a new server | <1d | 40.0s | the restored backup's age at the failure | n/a | <2h | 25.0s |");
  });

  it("runbook: rendered from the recover steps that ran, per path, with their measured time and command", () => {
    const markdown = renderMarkdown(buildReport("drill", drillWith(mixed), [], "test", []));
    const runbook = markdown.slice(markdown.indexOf("## DR Runbook"), markdown.indexOf("## Recommendations"));
    expect(runbook).toContain([
      "### Failure Scenario 1: Database Corruption",
      "",
      "**Symptoms**: symptom of database-corruption  ",
      "**Drilled by**: fault of database-corruption  ",
      "**Result**: ✅ passed — all good",
      "",
      "#### Runbook: restore into shop_new and swap (RPO: 1.2s (3 heartbeat rows lost), RTO: 4.5s)",
      "",
      "1. **Restore the newest backup into shop_new** (measured: 3.1s ✅)",
      "   ```bash",
      "   PGPASSWORD=... dr-drill restore postgres --latest --into postgres://postgres@127.0.0.1:5433/shop_new",
      "   ```",
      "2. **Swap the databases** (measured: 60ms ✅)",
      "   ```bash",
      "   psql -c 'ALTER DATABASE shop RENAME TO shop_corrupted' -c 'ALTER DATABASE shop_new RENAME TO shop'",
      "   ```",
    ].join("\n"));
    // Injection and verification are not runbook steps.
    expect(runbook).not.toContain("Corrupt a page");
    expect(runbook).toContain("2. **Restore PostgreSQL on the new server** (measured: 700ms ❌ pg_restore exited with code 1)");
    expect(runbook).toContain("3. **Application writes again** (measured: ⚠️ not run: 'Restore PostgreSQL on the new server' failed)");
    expect(runbook).toContain("#### Runbook: promote the replica in region B (RPO: 0ms (0 heartbeat rows lost), RTO: 3.0s)\n\n1. **Promote the replica** (measured: 1.1s ✅)\n   ```bash\n   psql -h REPLICA -c 'SELECT pg_promote()'\n   ```\n2. **Point the application at region B** (measured: 50ms ✅)\n");
    expect(runbook).toContain("#### Alternative: restore region B's backups on a new server (RPO: 40.0s (the restored backup's age at the failure), RTO: 25.0s)\n\n1. **Restore PostgreSQL from region B's repository** (measured: 21.0s ✅)\n   ```bash\n   dr-drill restore postgres --repo replica --latest --into postgres://postgres@REGION_B:5432/shop\n   ```");
    expect(runbook).not.toContain("NOT VERIFIED** (requires a second region");
    // A scenario with no recovery step (not verified) keeps the written runbook under its verdict.
    expect(runbook).toContain("### Failure Scenario 4: Media File Loss\n\n**Symptoms**: symptom of media-loss  \n**Drilled by**: fault of media-loss  \n**Result**: ⚠️ not verified — writable-source: the source is read only\n\nNo recovery step ran in this drill; the written runbook:\n\n```bash\ndr-drill restore media --latest");
  });

  it("metrics: per-scenario gauges from the rows, and each recovery path's RTO and RPO", () => {
    const text = renderTextfile(drillMetrics(buildReport("drill", drillWith(mixed), [], "test", [])));
    expect(text).toContain('dr_drill_scenario_verified{scenario="Database corruption"} 1');
    expect(text).toContain('dr_drill_scenario_verified{scenario="Media file loss"} 0');
    expect(text).toContain('dr_drill_scenario_success{scenario="Redis cache failure"} 0');
    expect(text).toContain('dr_drill_scenario_rto_seconds{scenario="Redis cache failure"} 2');
    expect(text).toContain('dr_drill_scenario_rto_objective_seconds{scenario="Region outage"} 7200');
    expect(text).toContain('dr_drill_scenario_path_rto_seconds{scenario="Region outage",path="promote the replica in region B"} 3');
    expect(text).toContain('dr_drill_scenario_path_rto_seconds{scenario="Region outage",path="restore region B\'s backups on a new server"} 25');
    expect(text).toContain('dr_drill_scenario_path_rpo_seconds{scenario="Region outage",path="restore region B\'s backups on a new server"} 40');
    expect(text).toContain('dr_drill_scenario_path_success{scenario="Complete server failure",path="new server set"} 0');
    expect(text).toContain("dr_drill_success 0");
    // A path that never recovered has no RTO sample (absent, not zero).
    expect(text).not.toMatch(/dr_drill_scenario_path_rto_seconds\{scenario="Complete server failure"/);
  });

  it("dr-status.json carries every scenario's result (steps and commands included), secrets masked", async () => {
    const dir = await mkdtemp(join(tmpdir(), "scenario-report-"));
    try {
      const secret = "s3cr3t-pg-password";
      const withSecret = { ...corruption, steps: corruption.steps.map((s) => (s.command ? { ...s, command: s.command.replace("PGPASSWORD=...", `PGPASSWORD=${secret}`) } : s)) };
      await writeReport({ dir, job: "drill", drill: drillWith([withSecret, serverFailure, redisFailure, mediaLoss, regionOutage]), opsTests: [], opsSource: "test", secrets: [secret] });
      const json = JSON.parse(await readFile(join(dir, "dr-status.json"), "utf8")) as { drill: DrillResult; scenarios: { id?: string; status: string }[] };
      expect(json.drill.scenarios!.map((s) => [s.id, s.verdict.status, s.paths.length])).toEqual([
        ["database-corruption", "passed", 1], ["server-failure", "failed", 1], ["redis-failure", "failed", 1], ["media-loss", "not verified", 0], ["region-outage", "passed", 2],
      ]);
      expect(json.scenarios.map((r) => [r.id, r.status]).slice(0, 5)).toEqual([["database-corruption", "MEETS"], ["server-failure", "FAILED"], ["redis-failure", "FAILED"], ["media-loss", "NOT VERIFIED"], ["region-outage", "MEETS"]]);
      expect(json.drill.scenarios![0]!.steps.find((s) => s.command?.includes("PGPASSWORD"))!.command).toContain("PGPASSWORD=***");
      for (const file of ["dr-status.json", "DR_STATUS.md"]) expect(await readFile(join(dir, file), "utf8")).not.toContain(secret);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a tag-like `<db>` in names is escaped outside code (it would vanish as HTML), kept as typed in commands and code spans", () => {
    const named = scenario("database-corruption", "Database corruption", {
      symptom: "`ERROR: invalid page in block 3 of relation <db>`",
      paths: [path("Restore into <db>_new and swap", 900, 100)],
      steps: [step("recover", "Restore into <db>_new", 800, { path: "Restore into <db>_new and swap", command: "dr-drill restore postgres --latest --into postgres://postgres@HOST:5432/<db>_new" })],
    });
    const markdown = renderMarkdown(buildReport("drill", drillWith([named]), [], "test", []));
    expect(markdown).toContain("#### Runbook: Restore into &lt;db>_new and swap (RPO: 100ms (heartbeats lost), RTO: 900ms)");
    expect(markdown).toContain("1. **Restore into &lt;db>_new** (measured: 800ms ✅)\n   ```bash\n   dr-drill restore postgres --latest --into postgres://postgres@HOST:5432/<db>_new\n   ```");
    expect(markdown).toContain("| Restore into &lt;db>_new and swap | <1h | 100ms |");
    expect(markdown).toContain("**Symptoms**: `ERROR: invalid page in block 3 of relation <db>`  ");
    expect(markdown).not.toMatch(/[^`]<db>_new and swap/);
  });

  it("a restore proof that failed while the scenarios passed: named in the overall status, the recommendations and its section", () => {
    const drill = drillWith([corruption]);
    drill.recoveries.postgres = { ...drill.recoveries.postgres, ok: false, error: "there are no complete PostgreSQL backups", rtoMs: undefined };
    const report = buildReport("drill", drill, [], "test", []);
    expect(report.overall).toMatchObject({ mark: "❌", label: "FAILING (1 breached: restore drill (postgres))" });
    expect(report.recommendations).toContain("**Fix the restore drill of postgres**: recovery failed: there are no complete PostgreSQL backups.");
    expect(renderMarkdown(report)).toContain("**Result**: ❌ recovery failed: there are no complete PostgreSQL backups");
  });
});
