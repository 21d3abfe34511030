import type { ComponentName, DrConfig } from "../config/index.ts";
import { verifyBackup } from "../components/index.ts";
import { type BackupManifest, listCompleteDumps } from "../manifest/index.ts";
import { checkSizeRange, gbPerMinute, lossWindow, projectRto, type RtoProjection, worstCaseRpo } from "../measure/index.ts";
import type { Storage } from "../storage/storage.ts";
import { type PostgresRestoreResult, RECOVERY_STEPS, RESTORE_STEPS } from "../components/postgres/postgres-restore.ts";
import type { DrillResult, RecoveryResult } from "./drill-result.ts";
import type { RecoverOutput } from "./recover-components.ts";

/** What the measurements need besides the recovery's own output. */
export interface MeasureInput {
  config: DrConfig;
  storage: Storage;
  identities: readonly string[];
  components: readonly ComponentName[];
  failureAt: Date;
  /** Measured wall time of each backup this run took, ms, by id. */
  backupDurations: Record<string, number>;
  /** Heartbeat rows written to the source but missing from the restore (rehearsal only). */
  lostRows: number | undefined;
}

/** The measurements every drill reports: newest backups, RPO three ways, size range, rates, projection, verify, storage. */
export async function measureDrill(input: MeasureInput, recovered: RecoverOutput): Promise<Pick<DrillResult, "newest" | "verify" | "rpo" | "sizeRange" | "rates" | "projection" | "storageBytes">> {
  const { config, storage, failureAt } = input;
  const history: Partial<Record<ComponentName, BackupManifest[]>> = {};
  // Dumps compare with dumps: a physical base backup's size says nothing about the next dump's.
  for (const component of input.components) history[component] = await listCompleteDumps(storage, component);
  const newest: Partial<Record<ComponentName, BackupManifest>> = {};
  for (const component of input.components) {
    const latest = history[component]!.at(-1);
    if (latest) newest[component] = latest;
  }
  const verify = [];
  for (const component of ["redis", "media"] as const) {
    const latest = newest[component];
    if (latest) verify.push(await verifyBackup({ storage, manifest: latest, identities: input.identities }));
  }
  const pgHistory = history.postgres ?? [];
  const restoredId = recovered.recoveries.postgres.backupId;
  const restored = pgHistory.find((m) => m.id === restoredId) ?? newest.postgres;
  const latestPg = newest.postgres;
  const durationOf = (m: BackupManifest | undefined) => (m ? input.backupDurations[m.id] ?? Date.parse(m.finishedAt) - Date.parse(m.startedAt) : 0);
  const sizeRange = latestPg
    ? checkSizeRange(latestPg.storedBytes, pgHistory.filter((m) => m.id !== latestPg.id).slice(-10).map((m) => m.storedBytes), {
      min: config.postgres.expectedSizeMin,
      max: config.postgres.expectedSizeMax,
    })
    : undefined;
  const restore = recovered.postgresRestore;
  const restoreMs = restore?.restoreMs ?? 0;
  return {
    newest,
    verify,
    rpo: {
      worstCaseMs: worstCaseRpo(config.schedule.postgres.intervalMs, durationOf(restored)),
      newestBackupAgeMs: restored ? Math.max(0, failureAt.getTime() - Date.parse(restored.consistentAt)) : Number.NaN,
      measuredLossMs: lossWindow(failureAt, recovered.restoredLastHeartbeat ? new Date(recovered.restoredLastHeartbeat) : undefined),
      lostRows: input.lostRows,
    },
    sizeRange,
    rates: restore && restoreMs > 0 ? { dumpGbPerMin: gbPerMinute(restore.dumpBytes, restoreMs), databaseGbPerMin: gbPerMinute(restore.restoredBytes, restoreMs) } : undefined,
    projection: restore && config.report.productionDbBytes ? projectPostgresRto(config.report.productionDbBytes, restore, recovered.recoveries.postgres) : undefined,
    storageBytes: await measureStorage(storage),
  };
}

/**
 * The RTO of a `productionBytes` database from this drill's PostgreSQL recovery. The steps
 * that grow with the database are scaled by size: download and decrypt, pg_restore, and the
 * smoke checks (they count every row and anti-join every foreign key). The rest of the
 * measured RTO (scratch server, CREATE DATABASE, the gaps between steps) is fixed. Steps,
 * not restoreMs: they follow each other in wall time whether or not the data load overlaps
 * the download, so each second is scaled once; anchoring the fixed part on the measured RTO
 * makes the projection at the drill's own size equal its measurement.
 */
export function projectPostgresRto(productionBytes: number, restore: Pick<PostgresRestoreResult, "restoredBytes">, recovery: Pick<RecoveryResult, "steps" | "rtoMs">): RtoProjection {
  const sum = (keep: (name: string) => boolean) => recovery.steps.filter((s) => keep(s.name)).reduce((a, s) => a + s.durationMs, 0);
  const scaledMs = sum((name) => SCALED_STEPS.has(name));
  const measuredMs = recovery.rtoMs ?? sum((name) => name !== RECOVERY_STEPS.cleanup);
  return projectRto(productionBytes, restore.restoredBytes, scaledMs, Math.max(0, measuredMs - scaledMs));
}

/** The recovery steps whose time grows with the database's size. */
const SCALED_STEPS: ReadonlySet<string> = new Set([RESTORE_STEPS.download, RESTORE_STEPS.pgRestore, RECOVERY_STEPS.smokeChecks]);

/** Bytes in storage per component (what the monthly cost estimate is based on). */
async function measureStorage(storage: Storage): Promise<DrillResult["storageBytes"]> {
  const byComponent: Record<ComponentName, number> = { postgres: 0, redis: 0, media: 0 };
  for (const component of ["postgres", "redis", "media"] as const) {
    for await (const object of storage.list(`${component}/`)) byComponent[component] += object.size;
  }
  return { total: byComponent.postgres + byComponent.redis + byComponent.media, byComponent };
}
