import type { S3StorageOptions } from "../src/storage/index.ts";
import type { PostgresEndpoint, RedisEndpoint, S3Endpoint } from "../src/targets/target.ts";

/**
 * What the RSS child is told, as JSON on its stdin: endpoints carry passwords and S3 keys,
 * so they never travel in argv (where `ps` shows them).
 */
export interface BackupChildRequest {
  postgres: PostgresEndpoint;
  redis: RedisEndpoint;
  /** Bucket and prefix the backup goes to. */
  s3: S3Endpoint;
  mediaDir: string;
  /** age recipients (public keys). */
  recipients: string[];
  /** pg_dump --compress level. */
  compressionLevel: number;
  /** S3Storage tuning; empty gives exactly what createStorage() builds. */
  storage: S3StorageOptions;
}

/** What the RSS child reports, as one JSON line on stdout. */
export interface BackupChildResult {
  /** Peak resident set size of the child over its whole life, bytes (process.resourceUsage().maxRSS). */
  maxRssBytes: number;
  /** Resident set size just before the backup started (modules loaded), bytes. */
  rssBeforeBytes: number;
  /** Wall time of backupPostgres() inside the child, ms. */
  durationMs: number;
  /** pg_database_size recorded in the manifest, bytes. */
  databaseBytes: number;
  /** Bytes stored (compressed dump, encrypted). */
  storedBytes: number;
}
