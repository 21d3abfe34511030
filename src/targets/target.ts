import type { TargetKind } from "../config/index.ts";
import type { StorageCapabilities } from "../storage/storage.ts";

/** How to reach a PostgreSQL server. The password travels only in env (PGPASSWORD). */
export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  /** Kept out of argv, logs and reports; passed to tools as PGPASSWORD. */
  password: string | undefined;
  /** The database backups are taken from (the source) or connected to by default. */
  database: string;
}

/** How to reach a Redis server. */
export interface RedisEndpoint {
  host: string;
  port: number;
  /** Passed to redis-cli as REDISCLI_AUTH, never argv. */
  password: string | undefined;
  /** The server's working directory when it is on this machine (dump.rdb lives there). */
  localDataDir: string | undefined;
}

/** An S3 bucket location with what the client needs to reach it. */
export interface S3Endpoint {
  /** Custom endpoint URL (fauxqs, LocalStack, MinIO); undefined means AWS. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  /** Key prefix, '' or ending in '/'. */
  prefix: string;
  /** Static credentials for local servers; undefined means the SDK's standard chain. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
  /** What this endpoint supports, as far as the target knows before probing. */
  capabilities: Partial<StorageCapabilities>;
}

/** A PostgreSQL server this process started and will stop. */
export interface StartedPostgres extends AsyncDisposable {
  endpoint: PostgresEndpoint;
  /** `15.18` style version string reported by the server. */
  version: string;
  /** Process id when it runs on this machine (tests check it is gone after stop). */
  pid?: number;
  /** Its temporary folder when it has one (tests check it is gone after stop). */
  dir?: string;
  stop(): Promise<void>;
}

/** A Redis server this process started and will stop. */
export interface StartedRedis extends AsyncDisposable {
  endpoint: RedisEndpoint;
  version: string;
  pid?: number;
  dir?: string;
  stop(): Promise<void>;
}

/** Everything the report should say about where the servers came from. */
export interface TargetDescription {
  kind: TargetKind;
  postgres: string;
  redis: string;
  s3: string;
  /** Images, for the containers target. */
  images?: Record<string, string>;
}

/**
 * A started target: the source servers (PostgreSQL, Redis, media folder), the S3 bucket
 * backups go to, and a way to start scratch servers for restores. Disposing it stops
 * everything it started and removes its temporary folders.
 */
export interface StartedTarget extends AsyncDisposable {
  kind: TargetKind;
  postgres: PostgresEndpoint;
  redis: RedisEndpoint;
  /** The media folder backed up. */
  mediaDir: string;
  s3: S3Endpoint;
  /** True when the source servers belong to someone else: never written to. */
  readOnlySource: boolean;
  /** A fresh, empty PostgreSQL server to restore into. */
  startScratchPostgres(): Promise<StartedPostgres>;
  /** A fresh Redis server loading the given RDB file. */
  startScratchRedis(rdbFile: string): Promise<StartedRedis>;
  describe(): TargetDescription;
  stop(): Promise<void>;
}
