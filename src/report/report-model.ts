import type { ComponentName, ScenarioId } from "../config/index.ts";
import type { DrillResult } from "../drill/drill-result.ts";
import type { OpsTestResult } from "../ops/ops-check.ts";
import type { Verdict } from "../measure/verdict.ts";
import type { HistoryPoint } from "./history.ts";

/** ✅ meets, ❌ breached or failed, ⚠️ not verified, ➖ not configured or not run (neutral). */
export type Mark = "✅" | "❌" | "⚠️" | "➖";

/** One row of the RPO/RTO scenario table. */
export interface ScenarioRow {
  /** The failure scenario this row renders (a drill that ran the scenarios); absent on the restore-proof and PITR rows. */
  id?: ScenarioId;
  scenario: string;
  rpoTarget: string;
  rtoTarget: string;
  measured: string;
  mark: Mark;
  /** MEETS, BREACHED, FAILED (the recovery broke), NOT VERIFIED, NOT CONFIGURED, NOT RUN. */
  status: string;
  /** The scenario's verdict as its runner judged it (rows with an id that ran). */
  verdict?: Verdict;
  /** The measured recovery point and time, ms, when measured (for metrics and trends). */
  rpoMs?: number;
  rtoMs?: number;
  /** The objectives, ms (rpoTarget/rtoTarget are their display). */
  rpoTargetMs?: number;
  rtoTargetMs?: number;
}

/** Everything the DR status report shows; rendered to Markdown and JSON. */
export interface DrStatusReport {
  /** Report format version. */
  formatVersion: 1;
  generatedAt: string;
  /** `drill` (pnpm drill) or `test:ops`. */
  job: string;
  drill: DrillResult;
  /** The ops tests (the reference's ten and the ones beyond it) as run by this job. */
  opsTests: OpsTestResult[];
  /** How the ops results were produced (the drill's own checks, or vitest). */
  opsSource: string;
  scenarios: ScenarioRow[];
  /** Breaches and things not verified, each with the reason. */
  recommendations: string[];
  /** Overall: operational, degraded (something not verified) or failing. */
  overall: { mark: Mark; label: string; breached: string[] };
  history: HistoryPoint[];
}

export type { ComponentName };
