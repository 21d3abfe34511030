/** The validated configuration every command runs on. Built once by loadConfig(). */

export type TargetKind = "native" | "external" | "containers";
/** Where restores are proven: scratch servers on this machine, or containers. */
export type SandboxKind = "native" | "containers";
export type ComponentName = "postgres" | "redis" | "media";
export const COMPONENTS: readonly ComponentName[] = ["postgres", "redis", "media"];

/** The failure scenarios of the runbook, in the reference's order. */
export const SCENARIO_IDS = ["database-corruption", "server-failure", "redis-failure", "media-loss", "region-outage"] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** A recovery point and time objective, ms. */
export interface Objective {
  rpoMs: number;
  rtoMs: number;
}

/** How often a component is backed up and how long its backups are kept. */
export interface SchedulePolicy {
  /** Interval between scheduled backups, ms (cron cadence; drives worst-case RPO). */
  intervalMs: number;
  /** How long backups are kept, ms (retention). */
  retentionMs: number;
  /** Human description of the cadence for the report, e.g. "Hourly". */
  label: string;
}

/** A user smoke command run against the restored database. */
export interface SmokeCommand {
  /** Short name shown in the report. */
  name: string;
  /** argv: program and arguments (no shell). */
  command: string[];
  /** Kill it after this long, ms. */
  timeoutMs: number;
}

/** Where backups go in S3 (external target; native/containers create their own bucket). */
export interface S3Location {
  bucket: string;
  prefix: string;
  endpoint: string | undefined;
  region: string;
}

/**
 * A team's own servers and bucket (target "external"). Each source component is optional
 * (any subset); only the bucket is required, because recovery needs nothing else.
 */
export interface ExternalSource {
  /** DR_DATABASE_URL: the PostgreSQL database protected, when there is one. */
  databaseUrl: string | undefined;
  /** DR_REDIS_URL: the Redis server protected, when there is one. */
  redisUrl: string | undefined;
  /** DR_MEDIA_DIR: the media folder protected, when there is one. */
  mediaDir: string | undefined;
  s3: S3Location;
}

export interface ContainerImages {
  postgres: string;
  redis: string;
  s3: string;
}

export interface DrConfig {
  /** Where the servers come from. */
  target: TargetKind;
  /** Workspace folder for persistent native servers and caches (DR_STATE_DIR, default .dr-drill). */
  stateDir: string;
  /** Servers that already exist (target "external"); only ever read from. */
  external: ExternalSource | undefined;
  /** Images for target "containers" and the containers sandbox. */
  images: ContainerImages;
  /** Where restores are proven (DR_SANDBOX): native scratch servers (default) or containers. */
  sandbox: SandboxKind;
  /**
   * A second repository (DR_REPLICA_S3_*): a copy of every backup, e.g. in another region.
   * Every backup completed in the primary is copied there, manifest last.
   */
  replica: S3Location | undefined;
  encryption: {
    /** age X25519 recipients (`age1...`); when any is set, every backup is encrypted. */
    recipients: string[];
    /** age identity file used to decrypt for verify/restore. */
    identityFile: string | undefined;
    /** Permit plaintext backups when no recipient is configured. */
    allowUnencrypted: boolean;
  };
  schedule: Record<ComponentName, SchedulePolicy>;
  objectives: {
    /** Recovery point objective, ms (database corruption; the report's headline). */
    rpoMs: number;
    /** Recovery time objective, ms. */
    rtoMs: number;
    /** Each failure scenario's objective (defaults from the reference, `objectives.scenarios` in dr.config.ts). */
    scenarios: Record<ScenarioId, Objective>;
  };
  postgres: {
    /** pg_dump --compress level (0-9). */
    compressionLevel: number;
    /** Who compresses the dump: "zstd" (pg_dump -Z0, zstd in dr-drill) or "pg_dump" (its own gzip). */
    compressionMethod: "zstd" | "pg_dump";
    /** pg_restore --jobs. */
    restoreJobs: number;
    /** Expected dump size bounds, bytes (optional). */
    expectedSizeMin: number | undefined;
    expectedSizeMax: number | undefined;
  };
  media: {
    /** Glob-like excludes (`*.pyc`, `__pycache__/`, `.DS_Store`). */
    excludes: string[];
  };
  smoke: {
    commands: SmokeCommand[];
  };
  report: {
    /** Folder for DR_STATUS.md, dr-status.json and history. */
    dir: string;
    /** Storage price, USD per GB-month, for the cost estimate. */
    pricePerGbMonth: number;
    /** Production database size for the projected RTO, bytes (optional). */
    productionDbBytes: number | undefined;
  };
  fixtures: {
    /** Target PostgreSQL fixture size, bytes. */
    postgresBytes: number;
    /** Seed for deterministic data. */
    seed: number;
  };
}

type Duration = string | number;
type Size = string | number;

/** What a dr.config.ts may set: every key optional; durations ("1h") and sizes ("50MB") as strings. */
export interface DrConfigInput {
  target?: TargetKind;
  stateDir?: string;
  sandbox?: SandboxKind;
  replica?: { bucket?: string; prefix?: string; endpoint?: string; region?: string };
  external?: {
    databaseUrl?: string;
    redisUrl?: string;
    mediaDir?: string;
    s3?: { bucket?: string; prefix?: string; endpoint?: string; region?: string };
  };
  images?: Partial<ContainerImages>;
  encryption?: { recipients?: string[]; identityFile?: string; allowUnencrypted?: boolean };
  schedule?: Partial<Record<ComponentName, { interval?: Duration; retention?: Duration; label?: string }>>;
  objectives?: { rpo?: Duration; rto?: Duration; scenarios?: Partial<Record<ScenarioId, { rpo?: Duration; rto?: Duration }>> };
  postgres?: { compressionLevel?: number; compressionMethod?: "zstd" | "pg_dump"; restoreJobs?: number; expectedSizeMin?: Size; expectedSizeMax?: Size };
  media?: { excludes?: string[] };
  smoke?: { commands?: { name?: string; command: string[]; timeout?: Duration }[] };
  report?: { dir?: string; pricePerGbMonth?: number; productionDbSize?: Size };
  fixtures?: { postgresSize?: Size; seed?: number };
}

/** Typed helper for dr.config.ts files. */
export function defineConfig(config: DrConfigInput): DrConfigInput {
  return config;
}
