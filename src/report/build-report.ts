import { formatDuration, SCENARIO_IDS } from "../config/index.ts";
import type { DrillResult } from "../drill/drill-result.ts";
import type { OpsTestResult } from "../ops/ops-check.ts";
import type { HistoryPoint } from "./history.ts";
import type { ComponentName, DrStatusReport, Mark, ScenarioRow } from "./report-model.ts";
import { failedStep, notRunRow, scenarioRow } from "./scenario-row.ts";

/** Scenario targets not set in config follow the reference: server failure 2x the RTO, Redis 5 min, media 1 h. */
const REDIS_RTO_MS = 5 * 60_000;
const MEDIA_RTO_MS = 3_600_000;
/** Point-in-time recovery's RPO objective: the reference's "<1min RPO" for PITR. */
const PITR_RPO_MS = 60_000;
/** The point-in-time recovery row's name. */
const PITR_SCENARIO = "Accidental DELETE (point-in-time recovery)";

function mark(ok: boolean | undefined): Mark {
  return ok === undefined ? "⚠️" : ok ? "✅" : "❌";
}

/**
 * The data a recovery of `component` lost, ms: in a rehearsal of PostgreSQL the measured
 * loss (heartbeats written after the restored backup); otherwise the restored backup's age
 * at the declared failure (the reference's "backup taken at 14:00, failure at 14:58").
 */
export function recoveryPointMs(drill: DrillResult, component: ComponentName): number | undefined {
  if (component === "postgres" && drill.mode === "rehearsal") return drill.rpo.measuredLossMs;
  const restored = drill.recoveries[component].restoredConsistentAt;
  return restored ? Math.max(0, Date.parse(drill.failureAt) - Date.parse(restored)) : undefined;
}

/** A row for a scenario whose components the source does not have: neutral. */
function notConfiguredRow(scenario: string, rpoTarget: string, rtoTarget: string, missing: string): ScenarioRow {
  return { scenario, rpoTarget, rtoTarget, measured: `${missing} not configured`, mark: "➖", status: "NOT CONFIGURED" };
}

/** Objectives of a scenario, ms, and their display ("<1h"). */
function objective(rpoMs: number, rtoMs: number): Pick<ScenarioRow, "rpoTarget" | "rtoTarget" | "rpoTargetMs" | "rtoTargetMs"> {
  return { rpoTarget: `<${formatDuration(rpoMs)}`, rtoTarget: `<${formatDuration(rtoMs)}`, rpoTargetMs: rpoMs, rtoTargetMs: rtoMs };
}

/** A true/false that a measured value is within its target (unmeasured is not within). */
function within(value: number | undefined, target: number): boolean {
  return value === undefined ? false : value <= target;
}

/**
 * The row of a scenario one component's recovery answers (database corruption, Redis,
 * media): its recovery point and time against the objectives, or "not configured".
 */
function componentRow(drill: DrillResult, component: ComponentName, scenario: string, label: string, rpoMs: number, rtoMs: number): ScenarioRow {
  const recovery = drill.recoveries[component];
  if (!recovery.configured) return notConfiguredRow(scenario, `<${formatDuration(rpoMs)}`, `<${formatDuration(rtoMs)}`, label);
  const point = recoveryPointMs(drill, component);
  const ok = recovery.ok && within(point, rpoMs) && within(recovery.rtoMs, rtoMs);
  const rpoWord = component === "postgres" && drill.mode === "rehearsal" ? "RPO" : "RPO (backup age at failure)";
  return {
    scenario,
    ...objective(rpoMs, rtoMs),
    measured: recovery.ok ? `${rpoWord}: ${formatDuration(point ?? Number.NaN)}, RTO: ${formatDuration(recovery.rtoMs ?? Number.NaN)}` : `recovery failed: ${recovery.error ?? "unknown"}`,
    mark: mark(ok),
    status: ok ? "MEETS" : "BREACHED",
    rpoMs: point,
    rtoMs: recovery.rtoMs,
  };
}

/** The accidental DELETE recovered to a moment: the reference's "<1min RPO" goal for PITR. */
function pitrRow(drill: DrillResult, pitr: NonNullable<DrillResult["pitr"]>): ScenarioRow {
  const { objectives } = drill.config;
  const pitrOk = pitr.verdict === "passed" && within(pitr.lossMs, PITR_RPO_MS) && within(pitr.rtoMs, objectives.rtoMs);
  return {
    scenario: PITR_SCENARIO,
    ...objective(PITR_RPO_MS, objectives.rtoMs),
    measured: pitr.verdict === "passed" ? `RPO: ${formatDuration(pitr.lossMs ?? Number.NaN)} before the target, RTO: ${formatDuration(pitr.rtoMs ?? Number.NaN)}; ${pitr.rowsBack}/${pitr.rowsDeleted} rows back` : pitr.detail,
    mark: pitr.verdict === "not verified" ? "⚠️" : mark(pitrOk),
    status: pitr.verdict === "not verified" ? "NOT VERIFIED" : pitrOk ? "MEETS" : "BREACHED",
    rpoMs: pitr.lossMs,
    rtoMs: pitr.rtoMs,
  };
}

/**
 * The rows of a drill that did not run the failure scenarios (a drill of existing
 * backups): restore proofs, each component's recovery against the scenario it answers.
 */
function restoreProofRows(drill: DrillResult): ScenarioRow[] {
  const { objectives, schedule } = drill.config;
  const rows: ScenarioRow[] = [componentRow(drill, "postgres", "Database corruption", "PostgreSQL", objectives.rpoMs, objectives.rtoMs)];

  const configured = (["postgres", "redis", "media"] as const).filter((c) => drill.recoveries[c].configured);
  const allOk = configured.length > 0 && configured.every((c) => drill.recoveries[c].ok);
  const serverRto = configured.reduce((sum, c) => sum + (drill.recoveries[c].rtoMs ?? 0), 0);
  const serverRpo = configured.reduce<number | undefined>((worst, c) => {
    const point = recoveryPointMs(drill, c);
    return point === undefined || worst === undefined ? undefined : Math.max(worst, point);
  }, 0);
  const serverOk = allOk && within(serverRpo, objectives.rpoMs) && serverRto <= objectives.rtoMs * 2;
  rows.push({
    scenario: "Complete server failure",
    ...objective(objectives.rpoMs, objectives.rtoMs * 2),
    measured: allOk ? `RPO: ${formatDuration(serverRpo ?? Number.NaN)}, RTO: ${formatDuration(serverRto)} (${configured.join(" + ")}, in sequence)` : configured.length ? "a component recovery failed" : "no component configured",
    mark: mark(serverOk),
    status: serverOk ? "MEETS" : "BREACHED",
    rpoMs: serverRpo,
    rtoMs: allOk ? serverRto : undefined,
  });

  rows.push({
    scenario: "Region outage",
    ...objective(24 * 3_600_000, 2 * 3_600_000),
    measured: "Not tested (requires a second region)",
    mark: "⚠️",
    status: "NOT VERIFIED",
  });

  if (drill.pitr) rows.push(pitrRow(drill, drill.pitr));

  rows.push(componentRow(drill, "redis", "Redis cache failure", "Redis", schedule.redis.intervalMs, REDIS_RTO_MS));
  rows.push(componentRow(drill, "media", "Media file loss", "Media", schedule.media.intervalMs, MEDIA_RTO_MS));
  return rows;
}

/**
 * The scenario table. A drill that ran the failure scenarios: one row per scenario, its
 * verdict as the scenario runner judged it (the report does not judge again), a scenario
 * not selected shown as not run, then the point-in-time recovery row. Otherwise the
 * restore-proof rows (a drill of existing backups, or a rehearsal that ran no scenario).
 */
export function buildScenarios(drill: DrillResult): ScenarioRow[] {
  const results = drill.scenarios;
  // A rehearsal told to run none (--scenario none) shows each as not run, never as a pass.
  if (!results?.length && !(drill.mode === "rehearsal" && results)) return restoreProofRows(drill);
  const ran = (results ?? []).map((r) => r.id);
  const rows = SCENARIO_IDS.map((id) => {
    const result = results?.find((r) => r.id === id);
    return result ? scenarioRow(result) : notRunRow(id, drill.config.objectives.scenarios?.[id], ran);
  });
  if (drill.pitr) rows.push(pitrRow(drill, drill.pitr));
  return rows;
}

/**
 * Components whose restore proof failed in a drill whose table shows the scenarios (the
 * table's rows no longer carry the restore proofs, so their failure is named apart).
 */
function failedRestoreProofs(drill: DrillResult): ComponentName[] {
  if (!drill.scenarios?.length) return [];
  return (["postgres", "redis", "media"] as const).filter((c) => drill.recoveries[c].configured && !drill.recoveries[c].ok);
}

/** What to fix for a ❌ row: a scenario names its failing step and the reason its runner gave. */
function fixRecommendation(drill: DrillResult, row: ScenarioRow): string {
  const result = row.id ? drill.scenarios?.find((r) => r.id === row.id) : undefined;
  if (!result) return `**Fix ${row.scenario.toLowerCase()} recovery**: ${row.measured} against RPO ${row.rpoTarget} / RTO ${row.rtoTarget}.`;
  const step = failedStep(result);
  // The runner's detail usually names the step already; name it when it does not.
  const at = step && !result.verdict.detail.includes(step.name) ? ` (step '${step.name}' failed: ${step.detail})` : "";
  return `**Fix ${row.scenario.toLowerCase()} recovery**: ${result.verdict.detail}${at}; objective RPO ${row.rpoTarget} / RTO ${row.rtoTarget}.`;
}

/** Recommendations from what failed or could not be verified in this run. */
export function buildRecommendations(drill: DrillResult, ops: readonly OpsTestResult[], scenarios: readonly ScenarioRow[]): string[] {
  const out: string[] = [];
  for (const failure of drill.backupErrors) out.push(`**Backup failed**: ${failure}.`);
  for (const row of scenarios.filter((s) => s.mark === "❌")) out.push(fixRecommendation(drill, row));
  for (const c of failedRestoreProofs(drill)) out.push(`**Fix the restore drill of ${c}**: recovery failed: ${drill.recoveries[c].error ?? "unknown"}.`);
  for (const test of ops.filter((t) => t.status === "failed")) out.push(`**${test.name} failed**: ${test.detail}`);
  for (const skip of drill.recoveries.postgres.skipped) out.push(`**Backup ${skip.id} is unusable** and was skipped during recovery: ${skip.reason}. Investigate the storage and re-run \`dr-drill verify --all\`.`);
  // Without Object Lock the immutability check's reason is the recommendation below.
  const said = drill.storageCapabilities.objectLock ? "" : "test_backups_immutable_object_lock";
  for (const test of ops.filter((t) => t.status === "not verified" && t.name !== said)) out.push(`**${test.name} not verified**: ${test.detail}.`);
  if (!drill.storageCapabilities.objectLock) out.push(`**Immutable backups not verified**: ${drill.storageCapabilities.reasons?.objectLock ?? "the storage offers no S3 Object Lock"}, so deletion or overwrite of a backup by a compromised host can be neither prevented nor tested here. Enable Object Lock in COMPLIANCE mode with a default retention rule on the production bucket and run this drill against it (DR_TARGET=external).`);
  if (!drill.storageCapabilities.versioning) out.push(`**Bucket versioning not verified**: ${drill.storageCapabilities.reasons?.versioning ?? "the storage has no versioning"}; enable it on the production bucket so an overwritten backup can be recovered.`);
  for (const row of scenarios.filter((s) => s.id && s.mark === "⚠️" && s.id !== "region-outage")) out.push(`**${row.scenario} not verified**: ${row.verdict?.detail ?? row.measured}.`);
  const region = scenarios.find((s) => s.id === "region-outage");
  // A region outage that ran and passed (or failed, said above) needs no reminder to test it.
  if (!region) out.push("**Test multi-region failover**: region outage is not covered by this drill (it needs a second region and a replica).");
  else if (region.mark === "⚠️") out.push(`**Test multi-region failover**: the region outage scenario was not verified: ${region.verdict?.detail ?? region.measured}.`);
  else if (region.status === "NOT RUN") out.push(`**Test multi-region failover**: ${region.measured}.`);
  if (drill.rpo.worstCaseMs > drill.config.objectives.rpoMs) {
    out.push(`**Worst-case RPO exceeds the target**: with backups every ${formatDuration(drill.config.schedule.postgres.intervalMs)} and a measured backup time of ${formatDuration(drill.rpo.worstCaseMs - drill.config.schedule.postgres.intervalMs)}, data written just after a snapshot can be ${formatDuration(drill.rpo.worstCaseMs)} old when lost. Enable WAL archiving (PITR) or back up more often for a strict ${formatDuration(drill.config.objectives.rpoMs)} RPO.`);
  }
  return out;
}

/**
 * "5/5 scenarios verified": when the failure scenarios ran, their rows are counted (not
 * run and not configured said apart) and the point-in-time row is named beside them;
 * otherwise every applicable row counts, as a drill of existing backups always did.
 */
function verifiedCount(scenarios: readonly ScenarioRow[]): string {
  const runbook = scenarios.filter((s) => s.id);
  const counted = runbook.length ? runbook : scenarios;
  const applicable = counted.filter((s) => s.mark !== "➖");
  const verified = applicable.filter((s) => s.mark !== "⚠️").length;
  const notRun = counted.filter((s) => s.status === "NOT RUN").length;
  const notConfigured = counted.length - applicable.length - notRun;
  const extra = [notConfigured ? `${notConfigured} not configured` : "", notRun ? `${notRun} not run` : ""];
  const pitr = runbook.length ? scenarios.find((s) => s.scenario === PITR_SCENARIO) : undefined;
  if (pitr) extra.push(`point-in-time recovery ${pitr.mark === "⚠️" ? "not verified" : "verified"}`);
  return `${verified}/${applicable.length} scenarios verified${extra.filter(Boolean).map((e) => `, ${e}`).join("")}`;
}

/** Assemble the report model from one job's measurements. */
export function buildReport(job: string, drill: DrillResult, opsTests: OpsTestResult[], opsSource: string, history: HistoryPoint[]): DrStatusReport {
  const scenarios = buildScenarios(drill);
  const breached = [
    ...drill.backupErrors.map((e) => `backup ${e.split(":")[0]}`),
    ...scenarios.filter((s) => s.mark === "❌").map((s) => s.scenario),
    ...failedRestoreProofs(drill).map((c) => `restore drill (${c})`),
    ...opsTests.filter((t) => t.status === "failed").map((t) => t.name),
  ];
  const overall = breached.length
    ? { mark: "❌" as const, label: `FAILING (${breached.length} breached: ${breached.join(", ")})`, breached }
    : { mark: "✅" as const, label: `OPERATIONAL (${verifiedCount(scenarios)})`, breached };
  return {
    formatVersion: 1,
    generatedAt: new Date().toISOString(),
    job,
    drill,
    opsTests,
    opsSource,
    scenarios,
    recommendations: buildRecommendations(drill, opsTests, scenarios),
    overall,
    history,
  };
}
