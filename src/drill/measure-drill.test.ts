import { describe, expect, it } from "vitest";
import { RECOVERY_STEPS, RESTORE_STEPS } from "../components/postgres/postgres-restore.ts";
import type { StepResult } from "../measure/index.ts";
import { projectPostgresRto } from "./measure-drill.ts";

const GB = 1e9;

/** A recovery's steps as the drill records them, with these durations (ms). */
function steps(durations: Record<string, number>): StepResult[] {
  let at = 0;
  return Object.entries(durations).map(([name, durationMs]) => {
    const step: StepResult = { name, startedAt: at, durationMs, status: "ok", detail: "" };
    at += durationMs;
    return step;
  });
}

// A 1 GB recovery: 2 s scratch server, 0.5 s CREATE DATABASE, 6 s download (tables loading
// meanwhile), 14 s rest of pg_restore, 4 s smoke checks; RTO 27 s from the declared failure.
const oneGb = {
  restore: { restoredBytes: GB },
  recovery: {
    rtoMs: 27_000,
    steps: steps({
      "Provision scratch PostgreSQL server": 2_000,
      [RESTORE_STEPS.createDatabase]: 500,
      [RESTORE_STEPS.download]: 6_000,
      [RESTORE_STEPS.pgRestore]: 14_000,
      [RECOVERY_STEPS.smokeChecks]: 4_000,
      [RECOVERY_STEPS.cleanup]: 1_000,
    }),
  },
};

describe("projectPostgresRto", () => {
  it("at the drill's own size it equals the measured RTO", () => {
    expect(projectPostgresRto(GB, oneGb.restore, oneGb.recovery).projectedMs).toBe(27_000);
  });

  it("scales download, pg_restore and the smoke checks once each, keeps the rest fixed", () => {
    const p = projectPostgresRto(10 * GB, oneGb.restore, oneGb.recovery);
    // (6 s download + 14 s pg_restore + 4 s checks) x 10 + (27 - 24) s fixed.
    expect(p.fixedMs).toBe(3_000);
    expect(p.projectedMs).toBe(243_000);
    expect(p.databaseBytes).toBe(10 * GB);
  });

  it("without a measured RTO (the recovery failed after the restore): the steps up to the checks", () => {
    const p = projectPostgresRto(2 * GB, oneGb.restore, { ...oneGb.recovery, rtoMs: undefined });
    // Steps without cleanup: 26.5 s, of which 24 s scale.
    expect(p.fixedMs).toBe(2_500);
    expect(p.projectedMs).toBe(50_500);
  });
});
