import { join } from "node:path";
import { connectPostgres } from "../clients/index.ts";
import type { PostgresEndpoint } from "../clients/endpoints.ts";
import { type ComponentName, type DrConfig, formatBytes } from "../config/index.ts";
import {
  compareRedisWithManifest,
  dropScratchDatabase,
  readNewestHeartbeat,
  restoreMedia,
  restorePostgres,
  restoreRedisToDir,
  scratchDatabaseName,
  type RedisComparison,
} from "../components/index.ts";
import { majorOf } from "../components/postgres/pg-tool-version.ts";
import { RECOVERY_STEPS } from "../components/postgres/postgres-restore.ts";
import { compareTrees } from "../components/media/media-compare.ts";
import { isDrError, messageOf } from "../errors/index.ts";
import { makeTempDir, removeTempDir } from "../lifecycle/index.ts";
import { type BackupManifest, listCompleteBackups, listCompleteDumps } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import type { ScratchServers, StartedPostgres, StartedRedis } from "../targets/target.ts";
import type { DrillResult, RecoveryResult } from "./drill-result.ts";
import { runSmokeChecks, type SmokeResult } from "./smoke-checks.ts";
import { StepRecorder, type StepListener } from "../measure/step-recorder.ts";

/** What the recovery phase needs: the repository's backups, the sandbox, and the live source only for comparisons. */
export interface RecoverInput {
  config: DrConfig;
  storage: Storage;
  identities: readonly string[];
  /** Where restores are proven. */
  sandbox: ScratchServers;
  /** The components to recover (the configured ones); the others are reported "not configured". */
  components: readonly ComponentName[];
  /** The declared failure: every RTO runs from here, every RPO is measured to here. */
  failureAt: Date;
  /** The source database (never restored into; read for lost heartbeats in a rehearsal). */
  sourcePostgres: PostgresEndpoint | undefined;
  /** The source media folder, compared file by file with the restore when present. */
  sourceMediaDir: string | undefined;
  /**
   * Rehearsal: the source is frozen at the failure, so a restored media tree must equal it.
   * Existing backups: the source kept changing since the snapshot, so the difference is
   * reported as drift (the media RPO), not as a failed recovery.
   */
  mediaMustMatchSource: boolean;
  listener?: StepListener;
  /** Keep the scratch database (and its server) instead of cleaning up. */
  keep?: boolean;
}

/** What the recovery phase measured. */
export type RecoverOutput = Pick<DrillResult, "recoveries" | "postgresRestore" | "restoredLastHeartbeat" | "smoke" | "redisComparison" | "media">;

/** A recovery record with its steps filled as they run. */
function startRecovery(component: ComponentName, recorder: StepRecorder): RecoveryResult & { recorder: StepRecorder } {
  return { component, configured: true, backupId: undefined, skipped: [], steps: recorder.steps, rtoMs: undefined, ok: false, recorder };
}

/** Drop the live recorder from a recovery record. */
function strip(recovery: RecoveryResult & { recorder: StepRecorder }): RecoveryResult {
  const { recorder: _recorder, ...rest } = recovery;
  return rest;
}

/** A component left out of this source: neutral, never counted as verified or as a failure. */
export function notConfigured(component: ComponentName): RecoveryResult {
  return { component, configured: false, backupId: undefined, skipped: [], steps: [], rtoMs: undefined, ok: false, error: "not configured" };
}

/** The scratch server's needed major, from the newest backup's manifest (undefined when it was not recorded). */
function neededMajor(manifest: BackupManifest | undefined): number | undefined {
  const version = manifest?.postgres?.serverVersion;
  const major = version ? majorOf(version) : Number.NaN;
  return Number.isFinite(major) ? major : undefined;
}

/**
 * Recover PostgreSQL: the newest complete backup restored into a scratch server from the
 * sandbox (falling back past backups that fail their checks, each reported), then the
 * smoke checks. RTO runs from the declared failure to smoke checks passed.
 */
async function recoverPostgres(input: RecoverInput, out: RecoverOutput): Promise<void> {
  const recovery = startRecovery("postgres", new StepRecorder(input.listener));
  let scratch: StartedPostgres | undefined;
  try {
    // pg_dump archives only: physical base backups are restored by the PITR path.
    const candidates = (await listCompleteDumps(input.storage, "postgres")).reverse();
    if (candidates.length === 0) throw new Error("there are no complete PostgreSQL backups");
    scratch = await recovery.recorder.run("Provision scratch PostgreSQL server", () => input.sandbox.startScratchPostgres({ major: neededMajor(candidates[0]) }), (s) => `PostgreSQL ${s.version} on ${s.endpoint.host}:${s.endpoint.port}`);
    const base = scratchDatabaseName(input.failureAt);
    let into = { ...scratch.endpoint, database: base };
    let restored: BackupManifest | undefined;
    for (const [index, candidate] of candidates.entries()) {
      // A fallback restores under a name of its own: the failed attempt's database is never reused.
      into = { ...scratch.endpoint, database: index === 0 ? base : `${base}_${index}` };
      try {
        out.postgresRestore = await restorePostgres({
          storage: input.storage,
          manifest: candidate,
          identities: input.identities,
          into,
          source: input.sourcePostgres,
          jobs: input.config.postgres.restoreJobs,
          recorder: recovery.recorder,
        });
        restored = candidate;
        break;
      } catch (error) {
        if (!isDrError(error, "INTEGRITY_FAILED")) throw error;
        recovery.skipped.push({ id: candidate.id, reason: messageOf(error).split("\n")[0]! });
        await dropScratchDatabase(into).catch(() => undefined);
      }
    }
    if (!restored || !out.postgresRestore) throw new Error(`no PostgreSQL backup passed its checks (${recovery.skipped.length} tried)`);
    recovery.backupId = restored.id;
    recovery.restoredConsistentAt = restored.consistentAt;
    out.smoke = await recovery.recorder.run(RECOVERY_STEPS.smokeChecks, () => runSmokeChecks(into, restored, input.config.smoke.commands), (r) => `${r.filter((s) => s.status === "passed").length}/${r.length} passed`);
    const client = await connectPostgres(into);
    try {
      out.restoredLastHeartbeat = await readNewestHeartbeat(client).then((v) => (v ? new Date(v).toISOString() : undefined));
    } finally {
      await client.end();
    }
    recovery.ok = out.smoke.every((s) => s.status === "passed");
    recovery.rtoMs = Date.now() - input.failureAt.getTime();
    if (!recovery.ok) recovery.error = out.smoke.filter((s) => s.status !== "passed").map((s) => `${s.name}: ${s.detail}`).join("; ");
    if (!input.keep) {
      // The scratch server and everything in it go: a smoke command that wrote to the
      // restored database must not keep the drill's own copy alive.
      const restoredInto = into.database;
      await recovery.recorder.run(RECOVERY_STEPS.cleanup, async () => {
        await scratch?.stop();
      }, () => `scratch server stopped and removed with ${restoredInto}`);
      scratch = undefined;
    }
  } catch (error) {
    recovery.ok = false;
    recovery.error = messageOf(error).split("\n")[0];
    if (!input.keep) await scratch?.stop().catch(() => undefined);
  }
  out.recoveries.postgres = strip(recovery);
}

/** Recover Redis: the newest RDB downloaded and checked, a scratch Redis started from it, keys, types and TTLs compared with the manifest. */
async function recoverRedis(input: RecoverInput, out: RecoverOutput): Promise<void> {
  const recovery = startRecovery("redis", new StepRecorder(input.listener));
  // Timed from its own start, as if Redis were the only thing lost (its own scenario).
  const started = Date.now();
  const work = await makeTempDir("drill-redis");
  let scratch: StartedRedis | undefined;
  try {
    const latest = (await listCompleteBackups(input.storage, "redis")).at(-1);
    if (!latest) throw new Error("there are no complete Redis backups");
    recovery.backupId = latest.id;
    recovery.restoredConsistentAt = latest.consistentAt;
    const { file } = await recovery.recorder.run("Download, decrypt and check RDB", () => restoreRedisToDir({ storage: input.storage, manifest: latest, identities: input.identities }, work), (r) => `${formatBytes(r.bytes)} dump.rdb, redis-check-rdb ok`);
    scratch = await recovery.recorder.run("Start scratch Redis from the RDB", () => input.sandbox.startScratchRedis(file), (s) => `Redis ${s.version} on ${s.endpoint.host}:${s.endpoint.port}`);
    const comparison: RedisComparison = await recovery.recorder.run("Compare keys, types and TTLs", () => compareRedisWithManifest(scratch!.endpoint, latest), (c) =>
      `PING ${c.ping}; keys ${JSON.stringify(c.keys.restored)} vs ${JSON.stringify(c.keys.expected)}${c.expiredSinceBackup ? ` (${c.expiredSinceBackup} volatile keys expired since the snapshot)` : ""}; ${c.matches ? "match" : "MISMATCH"}`);
    out.redisComparison = comparison;
    recovery.ok = comparison.matches;
    recovery.rtoMs = Date.now() - started;
    if (!recovery.ok) recovery.error = "restored Redis differs from its manifest";
  } catch (error) {
    recovery.error = messageOf(error).split("\n")[0];
  } finally {
    await scratch?.stop().catch(() => undefined);
    await removeTempDir(work);
  }
  out.recoveries.redis = strip(recovery);
}

/** Recover media: the newest snapshot restored into a scratch folder (every SHA-256 checked), then compared with the source folder when it is there. */
async function recoverMedia(input: RecoverInput, out: RecoverOutput): Promise<void> {
  const recovery = startRecovery("media", new StepRecorder(input.listener));
  // Timed from its own start, as if media were the only thing lost (its own scenario).
  const started = Date.now();
  const work = await makeTempDir("drill-media");
  try {
    const latest = (await listCompleteBackups(input.storage, "media")).at(-1);
    if (!latest) throw new Error("there are no complete media snapshots");
    recovery.backupId = latest.id;
    recovery.restoredConsistentAt = latest.consistentAt;
    const restoredDir = join(work, "media");
    const restored = await recovery.recorder.run("Restore snapshot into a scratch folder", () => restoreMedia({ storage: input.storage, manifest: latest, identities: input.identities }, restoredDir), (r) => `${r.files} files, ${formatBytes(r.bytes)}, every SHA-256 checked`);
    let compared: { same: boolean; detail: string } = { same: true, detail: "no source folder to compare with (the restore's own SHA-256 checks stand)" };
    if (input.sourceMediaDir) {
      const sourceDir = input.sourceMediaDir;
      compared = await recovery.recorder.run("Compare with the source folder", () => compareTrees(sourceDir, restoredDir, input.config.media.excludes), (c) => c.detail).catch((error: unknown) => ({ same: false, detail: `source folder unreadable: ${messageOf(error)}` }));
    }
    out.media = { restoredFiles: restored.files, restoredBytes: restored.bytes, matchesSource: compared.same, detail: compared.same || input.mediaMustMatchSource ? compared.detail : `drift since the snapshot: ${compared.detail}` };
    recovery.ok = compared.same || !input.mediaMustMatchSource;
    recovery.rtoMs = Date.now() - started;
    if (!recovery.ok) recovery.error = compared.detail;
  } catch (error) {
    recovery.error = messageOf(error).split("\n")[0];
  } finally {
    await removeTempDir(work);
  }
  out.recoveries.media = strip(recovery);
}

/**
 * The recovery phase shared by the rehearsal and the drill of existing backups: each
 * configured component restored from the repository into the sandbox and checked, every
 * step timed from the declared failure. The source is only read for comparisons.
 */
export async function recoverComponents(input: RecoverInput): Promise<RecoverOutput> {
  const out: RecoverOutput = {
    recoveries: { postgres: notConfigured("postgres"), redis: notConfigured("redis"), media: notConfigured("media") },
    postgresRestore: undefined,
    restoredLastHeartbeat: undefined,
    smoke: [] as SmokeResult[],
    redisComparison: undefined,
    media: undefined,
  };
  if (input.components.includes("postgres")) await recoverPostgres(input, out);
  if (input.components.includes("redis")) await recoverRedis(input, out);
  if (input.components.includes("media")) await recoverMedia(input, out);
  return out;
}
