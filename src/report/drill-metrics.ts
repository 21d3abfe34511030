import type { MetricFamily } from "../status/prometheus-textfile.ts";
import type { PathResult } from "../drill/scenarios/scenario.ts";
import type { DrStatusReport } from "./report-model.ts";

/**
 * Each recovery path of the failure scenarios that ran (the region outage has two: the
 * promoted replica and the restore from region B's repository), labelled by scenario and path.
 */
function pathGauges(report: DrStatusReport): MetricFamily[] {
  const paths = (report.drill.scenarios ?? []).flatMap((s) => s.paths.map((p) => ({ scenario: s.title, path: p })));
  const gauge = (name: string, help: string, value: (p: PathResult) => number | undefined): MetricFamily => ({
    name,
    help,
    type: "gauge",
    samples: paths.flatMap(({ scenario, path }) => {
      const v = value(path);
      return v === undefined || !Number.isFinite(v) ? [] : [{ name, labels: { scenario, path: path.name }, value: v }];
    }),
  });
  return [
    gauge("dr_drill_scenario_path_rto_seconds", "Measured recovery time of one recovery path of the scenario in the last drill.", (p) => (p.rtoMs === undefined ? undefined : p.rtoMs / 1000)),
    gauge("dr_drill_scenario_path_rpo_seconds", "Measured recovery point (data lost) of one recovery path of the scenario in the last drill.", (p) => (p.rpoMs === undefined ? undefined : p.rpoMs / 1000)),
    gauge("dr_drill_scenario_path_success", "1 when the recovery path passed in the last drill, 0 when it failed (absent when not verified).", (p) => (p.verdict.status === "passed" ? 1 : p.verdict.status === "failed" ? 0 : undefined)),
  ];
}

/** A drill's results as Prometheus gauges: per scenario RTO, RPO, objectives and outcome, per recovery path, plus the run. */
export function drillMetrics(report: DrStatusReport): MetricFamily[] {
  const measured = report.scenarios.filter((s) => s.mark !== "➖");
  const gauge = (name: string, help: string, value: (s: (typeof measured)[number]) => number | undefined): MetricFamily => ({
    name,
    help,
    type: "gauge",
    samples: measured.flatMap((s) => {
      const v = value(s);
      return v === undefined || !Number.isFinite(v) ? [] : [{ name, labels: { scenario: s.scenario }, value: v }];
    }),
  });
  const finished = Date.parse(report.drill.finishedAt) / 1000;
  return [
    gauge("dr_drill_scenario_rto_seconds", "Measured recovery time of the scenario in the last drill.", (s) => (s.rtoMs === undefined ? undefined : s.rtoMs / 1000)),
    gauge("dr_drill_scenario_rpo_seconds", "Measured recovery point (data lost) of the scenario in the last drill.", (s) => (s.rpoMs === undefined ? undefined : s.rpoMs / 1000)),
    gauge("dr_drill_scenario_rto_objective_seconds", "The scenario's recovery time objective.", (s) => (s.rtoTargetMs === undefined ? undefined : s.rtoTargetMs / 1000)),
    gauge("dr_drill_scenario_rpo_objective_seconds", "The scenario's recovery point objective.", (s) => (s.rpoTargetMs === undefined ? undefined : s.rpoTargetMs / 1000)),
    gauge("dr_drill_scenario_success", "1 when the scenario met its objectives in the last drill, 0 when breached (absent when not verified).", (s) => (s.mark === "✅" ? 1 : s.mark === "❌" ? 0 : undefined)),
    gauge("dr_drill_scenario_verified", "1 when the last drill verified the scenario, 0 when it could not.", (s) => (s.mark === "⚠️" ? 0 : 1)),
    ...pathGauges(report),
    { name: "dr_drill_success", help: "1 when the last drill breached nothing, else 0.", type: "gauge", samples: [{ name: "dr_drill_success", value: report.overall.breached.length ? 0 : 1 }] },
    { name: "dr_drill_last_run_timestamp_seconds", help: "Unix time the last drill finished.", type: "gauge", samples: [{ name: "dr_drill_last_run_timestamp_seconds", value: finished }] },
    {
      name: "dr_drill_ops_tests",
      help: "Ops tests of the last drill by outcome.",
      type: "gauge",
      samples: (["passed", "failed", "not verified", "not configured"] as const).map((status) => ({ name: "dr_drill_ops_tests", labels: { status }, value: report.opsTests.filter((t) => t.status === status).length })),
    },
  ];
}
