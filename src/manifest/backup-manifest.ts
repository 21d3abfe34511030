import type { ComponentName } from "../config/index.ts";

/** One stored object of a backup (a dump, an RDB file, a media file). */
export interface StoredPart {
  /** Storage key, relative to the storage root. */
  key: string;
  /** Bytes as stored (after compression and encryption). */
  size: number;
  /** Hex SHA-256 of the stored bytes: what verify re-downloads and checks first. */
  sha256: string;
  /** Bytes before encryption. */
  plainSize: number;
  /** Hex SHA-256 before encryption: checked again after decrypting. */
  plainSha256: string;
}

/** PostgreSQL facts captured at backup time; the restore drill compares against them. */
export interface PostgresBackupFacts {
  /** Server version, e.g. `15.18`. */
  serverVersion: string;
  /** pg_dump version, e.g. `15.18` (must be >= the server's major). */
  dumpVersion: string;
  /** Database dumped. */
  database: string;
  /** pg_database_size at backup time, bytes. */
  databaseBytes: number;
  /** WAL position when the dump's snapshot was taken (pg_current_wal_lsn). */
  lsn: string;
  /** Row count of every user table, schema-qualified, at the dump's snapshot. */
  tables: Record<string, number>;
  /** Applied Django migrations (`app.name`), sorted, empty when there is no django_migrations table. */
  migrations: string[];
  /** pg_dump --compress level used. */
  compressionLevel: number;
  /** Bytes of pg_dump's archive before dr-drill's own compression (the restore's temp file); absent in older manifests. */
  archiveBytes?: number;
  /** Newest row of dr_heartbeat in the dump, ISO time, when the table exists. */
  newestHeartbeat: string | undefined;
}

/** Facts of a physical base backup (pg_basebackup): what its restore needs from the WAL archive. */
export interface PhysicalBackupFacts {
  /** Server version, e.g. `15.18`. */
  serverVersion: string;
  /** pg_basebackup version that took it. */
  toolVersion: string;
  /** WAL position where the backup started (its checkpoint's redo point). */
  startLsn: string;
  /** WAL position where it ended: recovery must replay at least to here to be consistent. */
  stopLsn: string;
  /** Timeline the backup was taken on. */
  timeline: number;
  /** First WAL segment a restore needs, e.g. `000000010000000000000004`. */
  startWalFile: string;
  /** Last WAL segment the backup itself needs (the one holding stopLsn). */
  stopWalFile: string;
  /** WAL segment size of the cluster, bytes (16 MiB unless initdb --wal-segsize). */
  walSegmentBytes: number;
  /** Plain bytes of the tar stream. */
  bytes: number;
  /** When the backup's data became consistent (the stop point, as the server clock saw it), ISO. */
  consistentAt: string;
}

/** Redis facts captured at backup time. */
export interface RedisBackupFacts {
  /** Server version. */
  serverVersion: string;
  /** How the RDB was obtained. */
  method: "bgsave" | "redis-cli --rdb";
  /** LASTSAVE (unix seconds) of the snapshot. */
  lastSave: number;
  /** Keys per database at snapshot time (`db0` -> count). */
  keys: Record<string, number>;
  /** Keys with an expiry per database. */
  expires: Record<string, number>;
  /** Keys of each type in a sample (type -> count), for the restore comparison. */
  types: Record<string, number>;
}

/** Media facts: the snapshot's file list lives in its own object (it can be large). */
export interface MediaBackupFacts {
  /** Files in the snapshot. */
  files: number;
  /** Plain bytes of all files. */
  bytes: number;
  /** Files (and bytes) uploaded by this run: 0 when nothing changed. */
  uploadedFiles: number;
  uploadedBytes: number;
  /** Files skipped by the excludes. */
  excludedFiles: number;
  /** Files that vanished or changed while being read (skipped, reported). */
  vanishedFiles: string[];
  /** Patterns excluded. */
  excludes: string[];
}

/** What a backup is. Written last: a backup without a manifest does not exist. */
export interface BackupManifest {
  /** Manifest format version. */
  formatVersion: 1;
  /** Backup id: `<component>-<UTC timestamp>`, sorts by time. */
  id: string;
  component: ComponentName;
  /** Where the data came from, no secrets: `postgres://user@host:port/db`. */
  source: string;
  /** When the backup started and finished, ISO 8601 UTC. */
  startedAt: string;
  finishedAt: string;
  /**
   * The consistent point: data changed after this instant is not in the backup. For
   * PostgreSQL the snapshot time; for Redis the LASTSAVE time; for media the scan start.
   */
  consistentAt: string;
  /** Data format: `pg_dump custom`, `redis rdb`, `media snapshot`. */
  format: string;
  /** Compression applied before encryption: `pg_dump -Z 6`, `none`. */
  compression: string;
  /**
   * The stored objects, every one inside the backup's own folder (media: the snapshot's
   * file list and its refs list; the files themselves are shared, under media/objects/).
   */
  parts: StoredPart[];
  /** Total stored bytes of this backup's own parts. */
  storedBytes: number;
  /** age recipient fingerprints the parts are encrypted to; empty = plaintext. */
  encryption: { format: "age" | "none"; recipients: string[] };
  /** Tool versions that made it. */
  tools: Record<string, string>;
  postgres?: PostgresBackupFacts;
  /** Set for a physical base backup (`pg_basebackup tar`): restored with WAL, not pg_restore. */
  physical?: PhysicalBackupFacts;
  redis?: RedisBackupFacts;
  media?: MediaBackupFacts;
}
