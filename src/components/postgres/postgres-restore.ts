import { join } from "node:path";
import { connectPostgres, describePostgres, postgresEnv } from "../../clients/index.ts";
import { DrError } from "../../errors/index.ts";
import { runCommand } from "../../exec/index.ts";
import { makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import type { PostgresEndpoint } from "../../targets/target.ts";
import { StepRecorder } from "../../drill/step-recorder.ts";
import { formatBytes } from "../../config/index.ts";
import { downloadPartToFile, partOf } from "../download-part.ts";
import { assertToolNotOlder, readToolVersion } from "./pg-tool-version.ts";

/** The comment that marks a database as a dr-drill scratch database (safe to replace/drop). */
export const SCRATCH_COMMENT = "dr-drill scratch database";

/** `dr_drill_restore_20261124_030026`: the drill prefix and a timestamp. */
export function scratchDatabaseName(date = new Date()): string {
  return `dr_drill_restore_${date.toISOString().replace(/[-:]/g, "").replace("T", "_").slice(0, 15)}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface RestorePostgresOptions {
  storage: Storage;
  manifest: BackupManifest;
  identities: readonly string[];
  /** Server and database name to restore into; the database is created. */
  into: PostgresEndpoint;
  /** The source database: never restored into. */
  source: PostgresEndpoint | undefined;
  jobs: number;
  recorder?: StepRecorder;
  signal?: AbortSignal;
}

/** What a PostgreSQL restore measured. */
export interface PostgresRestoreResult {
  /** Where it was restored, no password. */
  database: string;
  /** Plain dump bytes downloaded. */
  dumpBytes: number;
  /** Stored (encrypted) bytes downloaded. */
  storedBytes: number;
  /** pg_database_size of the restored database. */
  restoredBytes: number;
  /** Wall time of pg_restore alone, ms. */
  restoreMs: number;
}

/** True when two endpoints name the same server (host and port). */
function sameServer(a: PostgresEndpoint, b: PostgresEndpoint): boolean {
  const norm = (h: string) => (h === "localhost" || h === "::1" ? "127.0.0.1" : h);
  return norm(a.host) === norm(b.host) && a.port === b.port;
}

/**
 * Refuse a restore that could touch data: into the source database, or into any existing
 * database dr-drill did not create as a scratch database. Returns whether it exists.
 */
export async function assertRestorable(into: PostgresEndpoint, source: PostgresEndpoint | undefined): Promise<boolean> {
  if (source && sameServer(into, source) && into.database === source.database) {
    throw new DrError("RESTORE_REFUSED", `unable to restore into database '${describePostgres(into)}': it is the source database`, {
      hint: "restore into a new database name; dr-drill creates it",
      exitCode: 2,
    });
  }
  const admin = await connectPostgres(into, "postgres");
  try {
    const { rows } = await admin.query<{ comment: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
      [into.database],
    );
    if (rows.length === 0) return false;
    if (rows[0]!.comment?.startsWith(SCRATCH_COMMENT)) return true;
    throw new DrError("RESTORE_REFUSED", `unable to restore into database '${describePostgres(into)}': it already exists and is not a dr-drill scratch database`, {
      hint: "choose a database name that does not exist; dr-drill creates it",
      exitCode: 2,
    });
  } finally {
    await admin.end();
  }
}

/** Create (or recreate, when it is our own scratch database) the target database. */
async function createScratchDatabase(into: PostgresEndpoint, exists: boolean): Promise<void> {
  const admin = await connectPostgres(into, "postgres");
  try {
    if (exists) await admin.query(`DROP DATABASE ${quoteIdent(into.database)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quoteIdent(into.database)} TEMPLATE template0`);
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(into.database)} IS '${SCRATCH_COMMENT} (${new Date().toISOString()})'`);
  } finally {
    await admin.end();
  }
}

/** Drop a scratch database (only ever one dr-drill created). */
export async function dropScratchDatabase(into: PostgresEndpoint): Promise<void> {
  const admin = await connectPostgres(into, "postgres");
  try {
    const { rows } = await admin.query<{ comment: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
      [into.database],
    );
    if (rows[0] && !rows[0].comment?.startsWith(SCRATCH_COMMENT)) {
      throw new DrError("RESTORE_REFUSED", `unable to drop database '${describePostgres(into)}': it is not a dr-drill scratch database`);
    }
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(into.database)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Restore a PostgreSQL backup: create the scratch database, download and decrypt the dump
 * to a temporary file (parallel pg_restore needs to seek), check both SHA-256s, then
 * `pg_restore --jobs N --no-owner --no-acl --exit-on-error`. Each step is timed.
 */
export async function restorePostgres(options: RestorePostgresOptions): Promise<PostgresRestoreResult> {
  const recorder = options.recorder ?? new StepRecorder();
  const part = options.manifest.parts[0];
  if (!part) throw new DrError("INTEGRITY_FAILED", `unable to restore backup '${options.manifest.id}': its manifest lists no parts`);
  const tool = await readToolVersion("pg_restore");
  if (options.manifest.postgres) assertToolNotOlder("pg_restore", tool.version, options.manifest.postgres.serverVersion);
  const exists = await assertRestorable(options.into, options.source);

  await recorder.run("Create scratch database", () => createScratchDatabase(options.into, exists), () => `created ${options.into.database}`);
  const work = await makeTempDir("pg-restore");
  try {
    const dumpFile = join(work, "restore.dump");
    const downloaded = await recorder.run(
      "Download and decrypt dump",
      () => downloadPartToFile(partOf(options, part), dumpFile),
      (r) => `${formatBytes(r.storedBytes)} downloaded, ${formatBytes(r.plainBytes)} dump, SHA-256 verified`,
    );
    const args = [`--dbname=${options.into.database}`, `--jobs=${options.jobs}`, "--no-owner", "--no-acl", "--exit-on-error", "--no-password", dumpFile];
    const restoreStarted = performance.now();
    await recorder.run(
      "Restore from pg_dump",
      () => runCommand(tool.path, args, { env: postgresEnv(options.into, options.into.database), timeoutMs: 12 * 3_600_000, signal: options.signal }),
      () => `pg_restore --jobs=${options.jobs} --no-owner --no-acl`,
    );
    const restoreMs = performance.now() - restoreStarted;
    const client = await connectPostgres(options.into);
    const { rows } = await client.query<{ bytes: string }>("SELECT pg_database_size(current_database()) AS bytes");
    await client.end();
    return {
      database: describePostgres(options.into),
      dumpBytes: downloaded.plainBytes,
      storedBytes: downloaded.storedBytes,
      restoredBytes: Number(rows[0]?.bytes ?? 0),
      restoreMs,
    };
  } finally {
    await removeTempDir(work);
  }
}
