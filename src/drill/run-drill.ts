import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectPostgres } from "../clients/index.ts";
import { COMPONENTS, type ComponentName, type DrConfig, formatBytes, SCENARIO_IDS, type ScenarioId } from "../config/index.ts";
import { runScenario, SCENARIOS, type ScenarioFaults, type ScenarioResult } from "./scenarios/index.ts";
import { runBackup, type BackupContext } from "../components/index.ts";
import { makeExcludeMatcher } from "../components/media/media-exclude.ts";
import { walkMedia } from "../components/media/media-walk.ts";
import { messageOf } from "../errors/index.ts";
import type { BackupManifest } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import type { StartedTarget } from "../targets/target.ts";
import type { DrillResult } from "./drill-result.ts";
import { startHeartbeatWriter } from "./heartbeat-writer.ts";
import { measureDrill } from "./measure-drill.ts";
import { startPitrRehearsal, type PitrRehearsal, type PitrResult } from "./pitr-rehearsal.ts";
import { recoverComponents } from "./recover-components.ts";
import { isSeeded, seedSource, type SeedResult } from "../../fixtures/seed-source.ts";
import { StepRecorder, type StepListener } from "../measure/step-recorder.ts";

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
  /** Stream WAL, take a base backup and recover an accidental DELETE to a moment (default: on; both targets). */
  pitr?: boolean;
  /** The failure scenarios to run after the restore proofs (default: all five; [] for none). */
  scenarios?: readonly ScenarioId[];
  /** Test-only faults inside the scenarios. */
  scenarioFaults?: ScenarioFaults;
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
  // Point-in-time recovery: the source streams its WAL to the repository from here on.
  let pitr: PitrRehearsal | undefined;
  let pitrResult: PitrResult | undefined;
  const pitrSteps = new StepRecorder(options.listener);
  if (options.pitr ?? true) {
    try {
      pitr = await phases.run("Stream WAL to the repository (pg_receivewal --synchronous)", () => startPitrRehearsal(ctx), () => "slot dr_drill_rehearsal, uploads every 0.5 s");
    } catch (error) {
      pitrResult = { verdict: "failed", detail: `the WAL stream did not start: ${messageOf(error).split("\n")[0]}` };
    }
  } else {
    pitrResult = { verdict: "not verified", detail: "point-in-time recovery was not rehearsed in this run (turned off for it)" };
  }
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
    await pitr?.baseBackup(phases).catch((error: unknown) => {
      backupErrors.push(`postgres physical base backup: ${messageOf(error).split("\n")[0]}`);
    });
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
    if (pitr) await pitr.accidentalDelete(phases).catch(() => undefined);
    await phases.run("Application keeps writing after the last backup", () => sleep(options.writesAfterBackupMs ?? 1500), () => "heartbeat writer running");
  } catch (error) {
    await pitr?.stop();
    throw error;
  } finally {
    failureAt = new Date();
    const summary = await heartbeat?.stop();
    sourceLastHeartbeat = summary?.lastWrittenAt;
    heartbeatRows = summary?.rows ?? 0;
  }
  phases.skip("Failure declared", `at ${failureAt.toISOString()}: recovery starts, RTO clock running`);

  const latestPostgres = backups.filter((b) => b.component === "postgres").at(-1);
  if (options.corruptLatestPostgres && latestPostgres) await corruptObject(storage, latestPostgres.parts[0]!.key);

  const recovered = await recoverComponents({
    config,
    storage,
    identities: options.identities,
    sandbox: target,
    components: COMPONENTS,
    failureAt,
    sourcePostgres: target.postgres,
    sourceMediaDir: target.mediaDir,
    mediaMustMatchSource: true,
    listener: options.listener,
    keep: options.keep,
  });
  if (pitr) {
    try {
      pitrResult = await pitr.recover(pitrSteps, storage, options.identities);
    } finally {
      await pitr.stop();
    }
  }
  const lostRows = recovered.restoredLastHeartbeat && sourceLastHeartbeat ? await countLostHeartbeats(target, new Date(recovered.restoredLastHeartbeat)) : undefined;
  const measured = await measureDrill({ config, storage, identities: options.identities, components: COMPONENTS, failureAt, backupDurations, lostRows }, recovered);
  const scenarios = await runScenarios(options, measured.newest);

  return {
    mode: "rehearsal",
    components: [...COMPONENTS],
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
    ...recovered,
    ...measured,
    pitr: pitrResult ? { ...pitrResult, steps: pitrSteps.steps } : undefined,
    scenarios,
  };
}

/**
 * The failure scenarios, one after another, each on its own copies of the source made now
 * (after the backups): a scenario's damage never reaches the source or the next scenario.
 */
async function runScenarios(options: DrillOptions, newest: DrillResult["newest"]): Promise<ScenarioResult[]> {
  const { target } = options;
  const ids = options.scenarios ?? SCENARIO_IDS;
  const results: ScenarioResult[] = [];
  const context = {
    config: options.config,
    storage: options.storage,
    identities: options.identities,
    recipients: options.recipients,
    source: { postgres: target.postgres, redis: target.redis, mediaDir: target.mediaDir },
    newest,
    sandbox: target,
    faults: options.scenarioFaults ?? {},
  };
  const missing = target.readOnlySource ? { "writable-source": "the source belongs to someone else: failure scenarios break copies of a rehearsal source only" } : {};
  for (const scenario of SCENARIOS.filter((s) => ids.includes(s.id))) {
    results.push(await runScenario(scenario, { context, stages: target.stages, missing, listener: options.listener }));
  }
  return results;
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

