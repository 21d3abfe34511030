/** RPO measured three ways. */
export interface RpoMeasurement {
  /** Worst case from the schedule: backup interval + measured backup duration, ms. */
  worstCaseMs: number;
  /** Age of the newest complete backup's consistent point at the declared failure, ms. */
  newestBackupAgeMs: number;
  /** Data actually lost in the drill: failure time - newest heartbeat found in the restore, ms. */
  measuredLossMs: number | undefined;
  /** Heartbeat rows written to the source but absent from the restore. */
  lostRows: number | undefined;
}

/** Worst-case RPO of a schedule: data written just after a backup's snapshot waits a full interval plus the next backup's duration. */
export function worstCaseRpo(intervalMs: number, backupDurationMs: number): number {
  return intervalMs + backupDurationMs;
}

/** Loss window: from the newest data the restore has to the moment of failure. */
export function lossWindow(failureAt: Date, newestRestored: Date | undefined): number | undefined {
  return newestRestored ? Math.max(0, failureAt.getTime() - newestRestored.getTime()) : undefined;
}
