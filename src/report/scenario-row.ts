import { formatDuration, type Objective, type ScenarioId } from "../config/index.ts";
import type { PathResult, ScenarioResult } from "../drill/scenarios/scenario.ts";
import type { StepResult } from "../measure/step-recorder.ts";
import type { VerdictStatus } from "../measure/verdict.ts";
import type { Mark, ScenarioRow } from "./report-model.ts";

/** The mark a verdict shows: the scenario runner judged, the report only draws it. */
export function verdictMark(status: VerdictStatus): Mark {
  return status === "passed" ? "✅" : status === "failed" ? "❌" : status === "not verified" ? "⚠️" : "➖";
}

/** A timed step's mark in a step table. */
export function stepMark(status: StepResult["status"]): Mark {
  return status === "ok" ? "✅" : status === "skipped" ? "⚠️" : "❌";
}

/** The first step that failed, when one did (what a failed scenario's recommendation names). */
export function failedStep(result: ScenarioResult): ScenarioResult["steps"][number] | undefined {
  return result.steps.find((s) => s.status === "failed");
}

/**
 * FAILED when the recovery itself broke (a step failed, a path never finished, a check
 * failed), BREACHED when it recovered and proved itself but outside the objective. Only
 * names the reason of a verdict that is already "failed"; never turns it into a pass.
 */
function failureWord(result: ScenarioResult): "FAILED" | "BREACHED" {
  const broke = result.paths.length === 0 || failedStep(result) !== undefined
    || result.paths.some((p) => p.rtoMs === undefined || p.checks.some((c) => c.status === "failed"));
  return broke ? "FAILED" : "BREACHED";
}

/**
 * "RPO: 1.2s (3 heartbeat rows lost), RTO: 4.5s" for one path: the lost rows when counted,
 * else how the RPO was measured (the scenario's section shows both in full).
 */
export function pathFigures(path: PathResult): string {
  if (path.rtoMs === undefined) return "not recovered";
  const basis = path.lostRows !== undefined ? ` (${path.lostRows} heartbeat rows lost)` : path.rpoBasis ? ` (${path.rpoBasis})` : "";
  return `RPO: ${formatDuration(path.rpoMs ?? Number.NaN)}${basis}, RTO: ${formatDuration(path.rtoMs)}`;
}

/** The measured text of a scenario: every path's figures (the region outage shows both), then why it is not a pass. */
function measuredText(result: ScenarioResult): string {
  const figures = result.paths.length === 1
    ? pathFigures(result.paths[0]!)
    : result.paths.map((p) => `${p.name}: ${pathFigures(p)}`).join("; ");
  switch (result.verdict.status) {
    case "passed":
      return figures;
    case "failed":
      return figures ? `${figures} — ${result.verdict.detail}` : result.verdict.detail;
    case "not verified":
      return `not verified: ${result.verdict.detail}`;
    case "not configured":
      return result.verdict.detail;
  }
}

/** Objectives of a scenario, ms, and their display ("<1h"). */
export function objectiveCells(objective: Objective): Pick<ScenarioRow, "rpoTarget" | "rtoTarget" | "rpoTargetMs" | "rtoTargetMs"> {
  return { rpoTarget: `<${formatDuration(objective.rpoMs)}`, rtoTarget: `<${formatDuration(objective.rtoMs)}`, rpoTargetMs: objective.rpoMs, rtoTargetMs: objective.rtoMs };
}

/** One row of the scenario table from a scenario's own result (its verdict rendered as is). */
export function scenarioRow(result: ScenarioResult): ScenarioRow {
  const status = result.verdict.status;
  return {
    id: result.id,
    scenario: result.title,
    ...objectiveCells(result.objective),
    measured: measuredText(result),
    mark: verdictMark(status),
    status: status === "passed" ? "MEETS" : status === "failed" ? failureWord(result) : status === "not verified" ? "NOT VERIFIED" : "NOT CONFIGURED",
    verdict: result.verdict,
    ...(result.rpoMs === undefined ? {} : { rpoMs: result.rpoMs }),
    ...(result.rtoMs === undefined ? {} : { rtoMs: result.rtoMs }),
  };
}

/** A scenario this drill did not select (`--scenario`): shown, neutral, never counted as verified. */
export function notRunRow(id: ScenarioId, objective: Objective | undefined, ran: readonly ScenarioId[]): ScenarioRow {
  const detail = `not run in this drill (${ran.length ? `it ran ${ran.join(", ")}` : "--scenario none"}; \`dr-drill drill --scenario ${id}\` runs it)`;
  return {
    id,
    scenario: id,
    rpoTarget: objective ? `<${formatDuration(objective.rpoMs)}` : "n/a",
    rtoTarget: objective ? `<${formatDuration(objective.rtoMs)}` : "n/a",
    measured: detail,
    mark: "➖",
    status: "NOT RUN",
  };
}
