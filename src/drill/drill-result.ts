import type { ComponentName, DrConfig } from "../config/index.ts";
import type { PostgresRestoreResult, RedisComparison, VerifyResult } from "../components/index.ts";
import type { BackupManifest } from "../manifest/index.ts";
import type { RpoMeasurement, RtoProjection, SizeRangeResult } from "../measure/index.ts";
import type { TargetDescription } from "../targets/target.ts";
import type { PitrResult } from "./pitr-rehearsal.ts";
import type { SmokeResult } from "./smoke-checks.ts";
import type { StepResult } from "../measure/step-recorder.ts";
import type { SeedResult } from "../../fixtures/seed-source.ts";
import type { ScenarioResult } from "./scenarios/scenario.ts";

/** A recovery of one component, timed from the declared failure. */
export interface RecoveryResult {
  component: ComponentName;
  /** False when the source has no such component: neutral, never verified, never a failure. */
  configured: boolean;
  /** The backup restored (after any fallback). */
  backupId: string | undefined;
  /** Its consistent point: the failure minus this is the data a real recovery would lose. */
  restoredConsistentAt?: string;
  /** Backups skipped because they failed their checks (e.g. corrupted), with why. */
  skipped: { id: string; reason: string }[];
  /** Timed steps, in order. */
  steps: StepResult[];
  /** Declared failure -> service usable again (restored and checked), ms. */
  rtoMs: number | undefined;
  ok: boolean;
  /** The error that ended it, when it failed. */
  error?: string;
}

/** Everything one drill run measured: the report is rendered from this alone. */
export interface DrillResult {
  /**
   * rehearsal: servers seeded, backed up, then recovered by this run. existing: the
   * backups already in the repository (cron's) drilled, nothing backed up or written.
   */
  mode: "rehearsal" | "existing";
  /** The components the source has; the others show as "not configured". */
  components: ComponentName[];
  /** When the drill started and finished, ISO. */
  startedAt: string;
  finishedAt: string;
  target: TargetDescription;
  /** Objectives and schedule in force. */
  config: Pick<DrConfig, "objectives" | "schedule" | "postgres" | "media" | "report" | "smoke">;
  /** Where the keys came from (never the keys). */
  keySource: string;
  /** Storage location (no secrets). */
  storageLocation: string;
  storageCapabilities: { versioning: boolean; objectLock: boolean; reasons?: { versioning?: string; objectLock?: string } };
  seed: SeedResult | undefined;
  /** Backups this drill took, oldest first (none when drilling existing backups). */
  backups: BackupManifest[];
  /** The newest complete backup of each component at the declared failure: what a recovery uses. */
  newest: Partial<Record<ComponentName, BackupManifest>>;
  /** Backups that failed, with the error (the drill goes on to show what can be recovered). */
  backupErrors: string[];
  /** Measured wall time of each backup, ms, by id. */
  backupDurations: Record<string, number>;
  /** Phase steps of the whole drill (seed, backups, failure, recoveries, cleanup). */
  phases: StepResult[];
  /** Declared failure instant, ISO. */
  failureAt: string;
  /** Newest heartbeat in the source at the failure, ISO. */
  sourceLastHeartbeat: string | undefined;
  heartbeatRows: number;
  recoveries: Record<ComponentName, RecoveryResult>;
  postgresRestore: PostgresRestoreResult | undefined;
  /** Newest heartbeat found in the restored database, ISO. */
  restoredLastHeartbeat: string | undefined;
  smoke: SmokeResult[];
  redisComparison: RedisComparison | undefined;
  media: { restoredFiles: number; restoredBytes: number; matchesSource: boolean; detail: string } | undefined;
  verify: VerifyResult[];
  rpo: RpoMeasurement;
  sizeRange: SizeRangeResult | undefined;
  /** Restore rates, GB/min: of dump bytes and of database bytes. */
  rates: { dumpGbPerMin: number; databaseGbPerMin: number } | undefined;
  projection: RtoProjection | undefined;
  /**
   * The failure scenarios run (rehearsal): each injected its fault into its own copies of
   * the source and was recovered by the runbook's steps, judged against its objective.
   * Undefined when the run did not attempt them (a drill of existing backups).
   */
  scenarios?: ScenarioResult[];
  /** Point-in-time recovery of an accidental DELETE (rehearsal), with its timed steps. */
  pitr?: PitrResult & { steps: StepResult[] };
  /** Total bytes in storage at the end, and by component. */
  storageBytes: { total: number; byComponent: Record<ComponentName, number> };
}
