import type { ComponentStatus } from "./freshness.ts";
import type { MetricFamily } from "./prometheus-textfile.ts";

/** Per-component freshness as Prometheus gauges (names follow the _seconds/_bytes/_timestamp_seconds conventions). */
export function statusMetrics(statuses: readonly ComponentStatus[], now = new Date()): MetricFamily[] {
  const configured = statuses.filter((s) => s.verdict !== "not configured");
  const per = (name: string, help: string, value: (s: ComponentStatus) => number | undefined): MetricFamily => ({
    name,
    help,
    type: "gauge",
    samples: configured.flatMap((s) => {
      const v = value(s);
      return v === undefined ? [] : [{ name, labels: { component: s.component }, value: v }];
    }),
  });
  return [
    per("dr_drill_backup_last_success_timestamp_seconds", "Unix time the newest complete backup finished.", (s) => (s.newest ? Date.parse(s.newest.finishedAt) / 1000 : undefined)),
    per("dr_drill_backup_age_seconds", "Age of the newest complete backup's data (now minus its consistent point).", (s) => (s.ageMs === undefined ? undefined : s.ageMs / 1000)),
    per("dr_drill_backup_size_bytes", "Stored bytes of the newest complete backup.", (s) => s.newest?.storedBytes),
    per("dr_drill_backup_interval_seconds", "Scheduled interval between backups.", (s) => s.intervalMs / 1000),
    per("dr_drill_backup_stale_after_seconds", "Age after which the newest backup counts as stale (interval plus grace).", (s) => (s.intervalMs + s.graceMs) / 1000),
    per("dr_drill_backup_fresh", "1 when the newest complete backup is within its interval plus grace, else 0.", (s) => (s.verdict === "fresh" ? 1 : 0)),
    per("dr_drill_backup_last_attempt_success", "1 when the newest finished backup attempt succeeded, 0 when it failed or stalled.", (s) => (s.lastAttemptSucceeded === undefined ? undefined : s.lastAttemptSucceeded ? 1 : 0)),
    per("dr_drill_replica_backup_age_seconds", "Age of the newest complete backup in the replica repository.", (s) => (s.replica?.ageMs === undefined ? undefined : s.replica.ageMs / 1000)),
    per("dr_drill_replica_lag_backups", "Complete backups in the primary repository not yet in the replica.", (s) => s.replica?.missing.length),
    { name: "dr_drill_status_timestamp_seconds", help: "Unix time this status was computed.", type: "gauge", samples: [{ name: "dr_drill_status_timestamp_seconds", value: now.getTime() / 1000 }] },
  ];
}
