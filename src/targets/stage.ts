import type { OsUser } from "../exec/index.ts";
import type { PostgresEndpoint } from "../clients/endpoints.ts";
import type { S3Endpoint } from "../storage/s3-endpoint.ts";
import type { StartedPostgres, StartedRedis } from "./started-servers.ts";

/** A PostgreSQL a failure scenario owns: it can crash it, damage its files and restart it. */
export interface StagePostgres extends StartedPostgres {
  /** Its data directory on this machine. */
  dataDir: string;
  /** The OS user that owns the data directory (undefined: ourselves). */
  osUser: OsUser | undefined;
  /** SIGKILL the postmaster now. */
  kill(): Promise<void>;
  /** Shut down cleanly, keeping the data directory; start() brings it back on the same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
}

/** A Redis a failure scenario owns, in a folder of the stage (kept when it is killed). */
export interface StageRedis extends StartedRedis {
  dir: string;
  kill(): Promise<void>;
}

/** An S3 endpoint a failure scenario owns (another region's repository). */
export interface StageS3 {
  endpoint: S3Endpoint;
  /** SIGKILL it now: the endpoint stops answering. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Throwaway servers for one failure scenario: copies of the rehearsal source it may break
 * (crash, corrupt, delete), so one scenario's damage can neither help nor hurt another.
 * stop() stops everything still running and removes every folder it made.
 */
export interface ScenarioStage extends AsyncDisposable {
  /** One line for the report: what the copies are. */
  describe(): string;
  /** A running copy of a PostgreSQL server (pg_basebackup), or its streaming replica (`standby`). */
  copyPostgres(source: PostgresEndpoint, options?: { standby?: boolean; label?: string }): Promise<StagePostgres>;
  /**
   * A Redis in `dir` (a folder of this stage), loading `dir/dump.rdb` when present; the
   * same port and password as a server it replaces, when given.
   */
  startRedis(options: { dir: string; port?: number; password?: string; label?: string }): Promise<StageRedis>;
  /** An S3 endpoint of its own, with `bucket` made. */
  startS3(bucket: string): Promise<StageS3>;
  /** A folder of this stage (removed with it). */
  makeDir(label: string): Promise<string>;
  stop(): Promise<void>;
}

/** Opens a fresh stage per scenario, or says why this target cannot. */
export type StageProvider = { available: true; open(): Promise<ScenarioStage> } | { available: false; reason: string };
