import { COMPONENTS, type ComponentName, type DrConfig } from "../config/index.ts";
import { describePostgres, describeRedis } from "../clients/index.ts";
import { listCompleteBackups } from "../manifest/index.ts";
import type { Repository } from "../repository/index.ts";
import type { Sandbox, Source } from "../targets/index.ts";
import type { DrillResult } from "./drill-result.ts";
import { measureDrill } from "./measure-drill.ts";
import { recoverComponents } from "./recover-components.ts";
import { StepRecorder, type StepListener } from "../measure/step-recorder.ts";

export interface ExistingDrillOptions {
  config: DrConfig;
  /** Where the backups are: only read (no backup is taken, nothing written under the backup prefixes). */
  repository: Repository;
  /** Where restores are proven. */
  sandbox: Sandbox;
  /** What is protected: only read, and may be down (used for comparisons and to refuse restoring into it). */
  source: Source;
  /** The components to drill (the configured ones); empty: every component the repository holds. */
  components: readonly ComponentName[];
  listener?: StepListener;
  keep?: boolean;
}

/** The components to drill: the source's, or on a recovery host that configures none, every component the repository holds. */
async function componentsToDrill(options: ExistingDrillOptions): Promise<ComponentName[]> {
  if (options.components.length) return [...options.components];
  const present: ComponentName[] = [];
  for (const component of COMPONENTS) if ((await listCompleteBackups(options.repository.storage, component)).length) present.push(component);
  return present;
}

/**
 * Drill the backups that exist (the ones cron made, the ones a real recovery would use):
 * the failure is declared now, the newest complete backup of each configured component is
 * restored into the sandbox and checked (falling back past ones that fail), and RPO is the
 * restored backup's age at the declared failure. Takes no backup and writes nothing into
 * the source or the repository's backup prefixes.
 */
export async function runExistingDrill(options: ExistingDrillOptions): Promise<DrillResult> {
  const { config, repository, source } = options;
  const storage = repository.storage;
  const startedAt = new Date();
  const phases = new StepRecorder(options.listener);
  await storage.probeCapabilities();
  const components = await componentsToDrill(options);
  const failureAt = new Date();
  phases.skip("Failure declared", `at ${failureAt.toISOString()}: drilling the existing backups of ${components.join(", ") || "no component"}; RTO clock running`);
  const recovered = await recoverComponents({
    config,
    storage,
    identities: repository.identities,
    sandbox: options.sandbox,
    components,
    failureAt,
    sourcePostgres: source.postgres,
    sourceMediaDir: source.mediaDir,
    mediaMustMatchSource: false,
    listener: options.listener,
    keep: options.keep,
  });
  const measured = await measureDrill({ config, storage, identities: repository.identities, components, failureAt, backupDurations: {}, lostRows: undefined }, recovered);
  const describeComponent = (component: ComponentName, text: string | undefined) => (components.includes(component) ? text ?? "backups only (source not configured here)" : "not configured");
  return {
    mode: "existing",
    components,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    target: {
      kind: source.kind,
      postgres: describeComponent("postgres", source.postgres && `PostgreSQL (${describePostgres(source.postgres)}, only read)`),
      redis: describeComponent("redis", source.redis && `Redis (${describeRedis(source.redis)}, only read)`),
      s3: repository.describe(),
      sandbox: options.sandbox.describe(),
    },
    config: { objectives: config.objectives, schedule: config.schedule, postgres: config.postgres, media: config.media, report: config.report, smoke: config.smoke },
    keySource: repository.keySource,
    storageLocation: storage.location,
    storageCapabilities: { versioning: storage.capabilities.versioning, objectLock: storage.capabilities.objectLock, reasons: storage.capabilities.reasons },
    seed: undefined,
    backups: [],
    backupErrors: [],
    backupDurations: {},
    phases: phases.steps,
    failureAt: failureAt.toISOString(),
    sourceLastHeartbeat: undefined,
    heartbeatRows: 0,
    ...recovered,
    ...measured,
  };
}
