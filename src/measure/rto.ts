/** Projected RTO for a larger database from a measured restore rate, labelled as a projection. */
export interface RtoProjection {
  /** Production database size projected for, bytes. */
  databaseBytes: number;
  /** Projected restore time, ms: size / measured rate + the drill's fixed steps. */
  projectedMs: number;
  /** Measured database restore rate used, bytes per ms. */
  bytesPerMs: number;
  /** Time of steps that do not scale with size (scratch, smoke checks), ms. */
  fixedMs: number;
}

/** Project the restore time of a database of `databaseBytes` from this run's rate. */
export function projectRto(databaseBytes: number, measuredBytes: number, measuredRestoreMs: number, fixedMs: number): RtoProjection {
  const bytesPerMs = measuredRestoreMs > 0 ? measuredBytes / measuredRestoreMs : Number.NaN;
  return { databaseBytes, bytesPerMs, fixedMs, projectedMs: databaseBytes / bytesPerMs + fixedMs };
}
