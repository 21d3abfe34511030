import { createReadStream } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectPostgres } from "../clients/index.ts";
import { type ComponentName, type DrConfig, formatBytes } from "../config/index.ts";
import {
  compareRedisWithManifest,
  dropScratchDatabase,
  readNewestHeartbeat,
  restoreMedia,
  restorePostgres,
  restoreRedisToDir,
  runBackup,
  scratchDatabaseName,
  verifyBackup,
  type BackupContext,
  type PostgresRestoreResult,
  type RedisComparison,
} from "../components/index.ts";
import { makeExcludeMatcher } from "../components/media/media-exclude.ts";
import { walkMedia } from "../components/media/media-walk.ts";
import { isDrError, messageOf } from "../errors/index.ts";
import { makeTempDir, removeTempDir } from "../lifecycle/index.ts";
import { type BackupManifest, listCompleteBackups } from "../manifest/index.ts";
import { checkSizeRange, gbPerMinute, lossWindow, projectRto, worstCaseRpo } from "../measure/index.ts";
import type { Storage } from "../storage/storage.ts";
import { hashStream } from "../streams/hash-stream.ts";
import type { StartedPostgres, StartedRedis, StartedTarget } from "../targets/target.ts";
import type { DrillResult, RecoveryResult } from "./drill-result.ts";
import { startHeartbeatWriter } from "./heartbeat-writer.ts";
import { isSeeded, seedSource, type SeedResult } from "./seed-source.ts";
import { runSmokeChecks, type SmokeResult } from "./smoke-checks.ts";
import { StepRecorder, type StepListener } from "./step-recorder.ts";

export interface DrillOptions {
  config: DrConfig;
  target: StartedTarget;
  storage: Storage;
  /** age recipients backups are encrypted to. */
  recipients: readonly string[];
  identities: readonly string[];
  keySource: string;
  listener?: StepListener;
  /** Keep the scratch database (and its server) instead of cleaning up. */
  keep?: boolean;
  /** Fault injection for tests: corrupt one byte of the newest PostgreSQL backup before recovery. */
  corruptLatestPostgres?: boolean;
  /** Heartbeats keep being written this long after the last backup before the failure, ms. */
  writesAfterBackupMs?: number;
}

/** Flip one byte in the middle of a stored object (fault injection only). */
export async function corruptObject(storage: Storage, key: string): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.get(key)) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const at = Math.floor(body.length / 2);
  body[at] = body[at]! ^ 0xff;
  await storage.put(key, body);
}

/** A recovery record with its steps filled as they run. */
function startRecovery(component: ComponentName, recorder: StepRecorder): RecoveryResult & { recorder: StepRecorder } {
  return { component, backupId: undefined, skipped: [], steps: recorder.steps, rtoMs: undefined, ok: false, recorder };
}

/**
 * The drill: seed -> two rounds of backups while a heartbeat writer keeps writing ->
 * declared failure -> PostgreSQL restored into a scratch server and smoke-checked (falling
 * back past corrupt backups) -> Redis and media restored and compared -> measurements.
 * Every figure in the result is measured here; nothing is assumed.
 */
export async function runDrill(options: DrillOptions): Promise<DrillResult> {
  const { config, target, storage } = options;
  const startedAt = new Date();
  const phases = new StepRecorder(options.listener);
  const ctx: BackupContext = {
    storage,
    config,
    postgres: target.postgres,
    redis: target.redis,
    mediaDir: target.mediaDir,
    recipients: options.recipients,
  };

  let seed: SeedResult | undefined;
  if (!target.readOnlySource && !(await isSeeded(target))) {
    seed = await phases.run("Seed source servers", () => seedSource(target, config), (s) =>
      `PostgreSQL ${formatBytes(s.postgres.databaseBytes)} (${Object.keys(s.postgres.tables).length} tables), Redis ${s.redis.keys} keys, media ${s.media.files} files`);
  }

  const heartbeat = target.readOnlySource ? undefined : await startHeartbeatWriter(target.postgres);
  const backups: BackupManifest[] = [];
  const backupDurations: Record<string, number> = {};
  const backupErrors: string[] = [];
  // A failed backup is a finding, not the end of the drill: recovery then shows what is left.
  const backupOne = async (component: ComponentName, round: number) => {
    const started = performance.now();
    try {
      const manifest = await phases.run(`Back up ${component} (round ${round})`, () => runBackup(component, ctx), (m) =>
        `${m.id}: ${formatBytes(m.storedBytes)} stored${m.media ? `, ${m.media.uploadedFiles} files uploaded` : ""}`);
      backupDurations[manifest.id] = performance.now() - started;
      backups.push(manifest);
    } catch (error) {
      backupErrors.push(`${component} (round ${round}): ${messageOf(error).split("\n")[0]}`);
    }
  };
  let failureAt: Date;
  let sourceLastHeartbeat: Date | undefined;
  let heartbeatRows: number;
  try {
    for (const component of ["postgres", "redis", "media"] as const) await backupOne(component, 1);
    // Between rounds the application keeps working: heartbeats, a new upload, a deletion.
    if (!target.readOnlySource) {
      await mkdir(join(target.mediaDir, "uploads", "drill"), { recursive: true });
      await writeFile(join(target.mediaDir, "uploads", "drill", `avatar-${startedAt.getTime()}.png`), Buffer.alloc(4096, 7));
      const walk = await walkMedia(target.mediaDir, makeExcludeMatcher(config.media.excludes));
      const victim = walk.files.find((f) => f.path.startsWith("user_avatars/")) ?? walk.files[0];
      if (victim) await rm(join(target.mediaDir, victim.path));
    }
    await sleep(300);
    for (const component of ["postgres", "redis", "media"] as const) await backupOne(component, 2);
    await phases.run("Application keeps writing after the last backup", () => sleep(options.writesAfterBackupMs ?? 1500), () => "heartbeat writer running");
  } finally {
    failureAt = new Date();
    const summary = await heartbeat?.stop();
    sourceLastHeartbeat = summary?.lastWrittenAt;
    heartbeatRows = summary?.rows ?? 0;
  }
  phases.skip("Failure declared", `at ${failureAt.toISOString()}: recovery starts, RTO clock running`);

  const latestPostgres = backups.filter((b) => b.component === "postgres").at(-1);
  if (options.corruptLatestPostgres && latestPostgres) await corruptObject(storage, latestPostgres.parts[0]!.key);

  // --- PostgreSQL recovery -------------------------------------------------------------
  const pgRecovery = startRecovery("postgres", new StepRecorder(options.listener));
  let postgresRestore: PostgresRestoreResult | undefined;
  let restoredLastHeartbeat: Date | undefined;
  let smoke: SmokeResult[] = [];
  let scratchPg: StartedPostgres | undefined;
  let restoredManifest: BackupManifest | undefined;
  try {
    scratchPg = await pgRecovery.recorder.run("Provision scratch PostgreSQL server", () => target.startScratchPostgres(), (s) => `PostgreSQL ${s.version} on ${s.endpoint.host}:${s.endpoint.port}`);
    const candidates = (await listCompleteBackups(storage, "postgres")).reverse();
    if (candidates.length === 0) throw new Error("there are no complete PostgreSQL backups");
    const into = { ...scratchPg.endpoint, database: scratchDatabaseName(failureAt) };
    for (const candidate of candidates) {
      try {
        postgresRestore = await restorePostgres({
          storage,
          manifest: candidate,
          identities: options.identities,
          into,
          source: target.postgres,
          jobs: config.postgres.restoreJobs,
          recorder: pgRecovery.recorder,
        });
        restoredManifest = candidate;
        break;
      } catch (error) {
        if (!isDrError(error, "INTEGRITY_FAILED")) throw error;
        pgRecovery.skipped.push({ id: candidate.id, reason: messageOf(error).split("\n")[0]! });
        await dropScratchDatabase(into).catch(() => undefined);
      }
    }
    if (!restoredManifest || !postgresRestore) throw new Error(`no PostgreSQL backup passed its checks (${pgRecovery.skipped.length} tried)`);
    pgRecovery.backupId = restoredManifest.id;
    smoke = await pgRecovery.recorder.run("Run smoke checks", () => runSmokeChecks(into, restoredManifest!, config.smoke.commands), (r) =>
      `${r.filter((s) => s.passed).length}/${r.length} passed`);
    const client = await connectPostgres(into);
    restoredLastHeartbeat = await readNewestHeartbeat(client).then((v) => (v ? new Date(v) : undefined));
    await client.end();
    pgRecovery.ok = smoke.every((s) => s.passed);
    pgRecovery.rtoMs = Date.now() - failureAt.getTime();
    if (!pgRecovery.ok) pgRecovery.error = smoke.filter((s) => !s.passed).map((s) => `${s.name}: ${s.detail}`).join("; ");
    if (!options.keep) {
      await pgRecovery.recorder.run("Cleanup", async () => {
        await dropScratchDatabase(into);
        await scratchPg?.stop();
      }, () => `dropped ${into.database}, scratch server stopped`);
      scratchPg = undefined;
    }
  } catch (error) {
    pgRecovery.ok = false;
    pgRecovery.error = messageOf(error).split("\n")[0];
    if (!options.keep) await scratchPg?.stop().catch(() => undefined);
  }

  // --- Redis recovery ------------------------------------------------------------------
  const redisRecovery = startRecovery("redis", new StepRecorder(options.listener));
  let redisComparison: RedisComparison | undefined;
  const redisStarted = Date.now();
  const redisWork = await makeTempDir("drill-redis");
  let scratchRedis: StartedRedis | undefined;
  try {
    const latest = (await listCompleteBackups(storage, "redis")).at(-1);
    if (!latest) throw new Error("there are no complete Redis backups");
    redisRecovery.backupId = latest.id;
    const { file } = await redisRecovery.recorder.run("Download, decrypt and check RDB", () => restoreRedisToDir({ storage, manifest: latest, identities: options.identities }, redisWork), (r) => `${formatBytes(r.bytes)} dump.rdb, redis-check-rdb ok`);
    scratchRedis = await redisRecovery.recorder.run("Start scratch Redis from the RDB", () => target.startScratchRedis(file), (s) => `Redis ${s.version} on ${s.endpoint.host}:${s.endpoint.port}`);
    redisComparison = await redisRecovery.recorder.run("Compare keys, types and TTLs", () => compareRedisWithManifest(scratchRedis!.endpoint, latest), (c) =>
      `PING ${c.ping}; keys ${JSON.stringify(c.keys.restored)} vs ${JSON.stringify(c.keys.expected)}; ${c.matches ? "match" : "MISMATCH"}`);
    redisRecovery.ok = redisComparison.matches;
    redisRecovery.rtoMs = Date.now() - redisStarted;
    if (!redisRecovery.ok) redisRecovery.error = "restored Redis differs from its manifest";
  } catch (error) {
    redisRecovery.error = messageOf(error).split("\n")[0];
  } finally {
    await scratchRedis?.stop().catch(() => undefined);
    await removeTempDir(redisWork);
  }

  // --- Media recovery ------------------------------------------------------------------
  const mediaRecovery = startRecovery("media", new StepRecorder(options.listener));
  let media: DrillResult["media"];
  const mediaStarted = Date.now();
  const mediaWork = await makeTempDir("drill-media");
  try {
    const latest = (await listCompleteBackups(storage, "media")).at(-1);
    if (!latest) throw new Error("there are no complete media snapshots");
    mediaRecovery.backupId = latest.id;
    const restoredDir = join(mediaWork, "media");
    const restored = await mediaRecovery.recorder.run("Restore snapshot into a scratch folder", () => restoreMedia({ storage, manifest: latest, identities: options.identities }, restoredDir), (r) => `${r.files} files, ${formatBytes(r.bytes)}, every SHA-256 checked`);
    const compared = await mediaRecovery.recorder.run("Compare with the source folder", () => compareTrees(target.mediaDir, restoredDir, config.media.excludes), (c) => c.detail);
    media = { restoredFiles: restored.files, restoredBytes: restored.bytes, matchesSource: compared.same, detail: compared.detail };
    mediaRecovery.ok = compared.same;
    mediaRecovery.rtoMs = Date.now() - mediaStarted;
    if (!compared.same) mediaRecovery.error = compared.detail;
  } catch (error) {
    mediaRecovery.error = messageOf(error).split("\n")[0];
  } finally {
    await removeTempDir(mediaWork);
  }

  // --- Verification of the newest backups and measurements ------------------------------
  const verify = [];
  for (const component of ["redis", "media"] as const) {
    const latest = backups.filter((b) => b.component === component).at(-1);
    if (latest) verify.push(await verifyBackup({ storage, manifest: latest, identities: options.identities }));
  }

  const pgBackups = backups.filter((b) => b.component === "postgres");
  const newest = restoredManifest ?? pgBackups.at(-1);
  const durationOf = (m: BackupManifest | undefined) => (m ? backupDurations[m.id] ?? Date.parse(m.finishedAt) - Date.parse(m.startedAt) : 0);
  const completeHistory = await listCompleteBackups(storage, "postgres");
  const latestPg = pgBackups.at(-1);
  const sizeRange = latestPg
    ? checkSizeRange(latestPg.storedBytes, completeHistory.filter((m) => m.id !== latestPg.id).slice(-10).map((m) => m.storedBytes), {
      min: config.postgres.expectedSizeMin,
      max: config.postgres.expectedSizeMax,
    })
    : undefined;
  const lostRows = restoredLastHeartbeat && sourceLastHeartbeat ? await countLostHeartbeats(target, restoredLastHeartbeat) : undefined;
  const restoreMs = postgresRestore?.restoreMs ?? 0;
  const fixedMs = pgRecovery.steps.filter((s) => s.name !== "Restore from pg_dump" && s.name !== "Cleanup").reduce((a, s) => a + s.durationMs, 0);
  const storageBytes = await measureStorage(storage);

  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    target: target.describe(),
    config: { objectives: config.objectives, schedule: config.schedule, postgres: config.postgres, media: config.media, report: config.report, smoke: config.smoke },
    keySource: options.keySource,
    storageLocation: storage.location,
    storageCapabilities: { versioning: storage.capabilities.versioning, objectLock: storage.capabilities.objectLock, reasons: storage.capabilities.reasons },
    seed,
    backups,
    backupErrors,
    backupDurations,
    phases: phases.steps,
    failureAt: failureAt.toISOString(),
    sourceLastHeartbeat: sourceLastHeartbeat?.toISOString(),
    heartbeatRows,
    recoveries: { postgres: strip(pgRecovery), redis: strip(redisRecovery), media: strip(mediaRecovery) },
    postgresRestore,
    restoredLastHeartbeat: restoredLastHeartbeat?.toISOString(),
    smoke,
    redisComparison,
    media,
    verify,
    rpo: {
      worstCaseMs: worstCaseRpo(config.schedule.postgres.intervalMs, durationOf(newest)),
      newestBackupAgeMs: newest ? failureAt.getTime() - Date.parse(newest.consistentAt) : Number.NaN,
      measuredLossMs: lossWindow(failureAt, restoredLastHeartbeat),
      lostRows,
    },
    sizeRange,
    rates: postgresRestore && restoreMs > 0
      ? { dumpGbPerMin: gbPerMinute(postgresRestore.dumpBytes, restoreMs), databaseGbPerMin: gbPerMinute(postgresRestore.restoredBytes, restoreMs) }
      : undefined,
    projection: postgresRestore && config.report.productionDbBytes
      ? projectRto(config.report.productionDbBytes, postgresRestore.restoredBytes, restoreMs, fixedMs)
      : undefined,
    storageBytes,
  };
}

/** Drop the live recorder from a recovery record. */
function strip(recovery: RecoveryResult & { recorder: StepRecorder }): RecoveryResult {
  const { recorder: _recorder, ...rest } = recovery;
  return rest;
}

/** Heartbeats in the source newer than the newest restored one: the rows the failure lost. */
async function countLostHeartbeats(target: StartedTarget, newestRestored: Date): Promise<number> {
  const client = await connectPostgres(target.postgres);
  try {
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM dr_heartbeat WHERE written_at > $1", [newestRestored]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** Bytes in storage per component (what the monthly cost estimate is based on). */
async function measureStorage(storage: Storage): Promise<DrillResult["storageBytes"]> {
  const byComponent: Record<ComponentName, number> = { postgres: 0, redis: 0, media: 0 };
  for (const component of ["postgres", "redis", "media"] as const) {
    for await (const object of storage.list(`${component}/`)) byComponent[component] += object.size;
  }
  return { total: byComponent.postgres + byComponent.redis + byComponent.media, byComponent };
}

/** Compare two trees file by file (paths and SHA-256), the source filtered by the excludes. */
async function compareTrees(source: string, restored: string, excludes: readonly string[]): Promise<{ same: boolean; detail: string }> {
  const [a, b] = await Promise.all([walkMedia(source, makeExcludeMatcher(excludes)), walkMedia(restored, makeExcludeMatcher([]))]);
  const pathsA = new Set(a.files.map((f) => f.path));
  const pathsB = new Set(b.files.map((f) => f.path));
  const missing = [...pathsA].filter((p) => !pathsB.has(p));
  const extra = [...pathsB].filter((p) => !pathsA.has(p));
  let different = 0;
  for (const file of a.files) {
    if (!pathsB.has(file.path)) continue;
    const [ha, hb] = await Promise.all([hashStream(createReadStream(join(source, file.path))), hashStream(createReadStream(join(restored, file.path)))]);
    if (ha.sha256 !== hb.sha256) different += 1;
  }
  const same = missing.length === 0 && extra.length === 0 && different === 0;
  return {
    same,
    detail: same
      ? `${pathsA.size} files identical to the source (${a.excluded} excluded entries not backed up)`
      : `${missing.length} missing, ${extra.length} unexpected, ${different} different (source changed since the snapshot, or restore fault)`,
  };
}
