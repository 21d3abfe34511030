import { formatDuration, SCENARIO_IDS } from "../config/index.ts";
import type { ScenarioResult } from "../drill/scenarios/scenario.ts";
import { inline, table } from "./markdown-table.ts";
import type { DrStatusReport, ScenarioRow } from "./report-model.ts";
import { stepMark, verdictMark } from "./scenario-row.ts";

/** "✅ MEETS — detail": a scenario's row mark and status with its runner's verdict detail. */
function verdictLine(row: ScenarioRow | undefined, result: ScenarioResult): string {
  const head = row ? `${row.mark} ${row.status}` : `${verdictMark(result.verdict.status)} ${result.verdict.status}`;
  return `${head} — ${inline(result.verdict.detail)}`;
}

/** The objective against what each recovery path measured (the region outage has two). */
function pathTable(result: ScenarioResult): string {
  const { objective } = result;
  return table(["Path", "RPO objective", "RPO measured", "RPO basis", "Heartbeat rows lost", "RTO objective", "RTO measured", "Verdict"], result.paths.map((p) => [
    p.name,
    `<${formatDuration(objective.rpoMs)}`,
    p.rpoMs === undefined ? "not measured" : formatDuration(p.rpoMs),
    p.rpoBasis ?? "n/a",
    p.lostRows === undefined ? "n/a" : String(p.lostRows),
    `<${formatDuration(objective.rtoMs)}`,
    p.rtoMs === undefined ? "not recovered" : formatDuration(p.rtoMs),
    `${verdictMark(p.verdict.status)} ${p.verdict.detail}`,
  ]));
}

/** One failure scenario: fault, symptom, verdict, objective vs measured per path, checks, and every timed step. */
function renderScenario(result: ScenarioResult, index: number, row: ScenarioRow | undefined): string[] {
  const lines = [`### Scenario ${index}: ${inline(result.title)}`, ""];
  lines.push(`**Fault injected**: ${inline(result.fault)}  `);
  lines.push(`**Symptom**: ${inline(result.symptom)}  `);
  lines.push(`**Verdict**: ${verdictLine(row, result)}  `);
  lines.push(`**Objective**: RPO <${formatDuration(result.objective.rpoMs)}, RTO <${formatDuration(result.objective.rtoMs)}  `);
  if (result.failureAt) lines.push(`**Failure declared**: ${result.failureAt}  `);
  lines.push(`**Servers**: ${inline(result.stage ?? "none started")}; **scenario wall time**: ${formatDuration(result.durationMs)}`, "");
  if (result.paths.length) lines.push(pathTable(result), "");
  const checks = result.paths.flatMap((p) => p.checks.map((c) => [p.name, c.name, `${verdictMark(c.status)} ${c.status}`, c.detail]));
  if (checks.length) lines.push("#### Checks", "", table(["Path", "Check", "Result", "Detail"], checks), "");
  if (result.steps.length) {
    lines.push("#### Steps", "");
    lines.push(table(["#", "Phase", "Path", "Step", "Duration", "Result"], result.steps.map((s, i) => [
      String(i + 1), s.phase, s.path ?? "", s.name, formatDuration(s.durationMs), `${stepMark(s.status)} ${s.detail}`,
    ])), "");
  }
  return lines;
}

/**
 * The "Failure Scenarios" section: each scenario that ran, as its runner recorded and
 * judged it. Nothing when the drill ran none (a drill of existing backups).
 */
export function renderScenarioSections(report: DrStatusReport): string[] {
  const results = report.drill.scenarios ?? [];
  if (!results.length) return [];
  const lines = ["## Failure Scenarios", ""];
  lines.push("Each scenario broke its own copies of the source for real (the fault below), was detected, then recovered by the runbook's steps with every step timed. RTO runs from the declared failure to the last recovery step of a path; the verdicts are the scenario runner's.", "");
  // Numbered as in the runbook (scenario 3 is always the Redis failure), whichever ran.
  for (const result of results) lines.push(...renderScenario(result, SCENARIO_IDS.indexOf(result.id) + 1, report.scenarios.find((r) => r.id === result.id)));
  lines.push("---", "");
  return lines;
}
