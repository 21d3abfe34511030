import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type pg from "pg";
import { connectPostgres, describePostgres, postgresEnv } from "../../clients/index.ts";
import { DrError, messageOf } from "../../errors/index.ts";
import { runCommand } from "../../exec/index.ts";
import { makeTempDir, registerCleanup, removeTempDir } from "../../lifecycle/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import type { PostgresEndpoint } from "../../clients/endpoints.ts";
import { StepRecorder } from "../../measure/step-recorder.ts";
import { formatBytes } from "../../config/index.ts";
import { downloadPartToFile, partOf } from "../download-part.ts";
import { assertFreeSpace } from "../local-disk.ts";
import { withLeftBehind } from "../restore-folder.ts";
import { type ArchiveIndex, indexArchiveOffsets } from "./archive-offsets.ts";
import { dumpFileSink } from "./dump-compression.ts";
import { assertToolNotOlder, readToolVersion } from "./pg-tool-version.ts";

/** The comment that marks a database as a dr-drill scratch database (safe to replace/drop). */
export const SCRATCH_COMMENT = "dr-drill scratch database";

/** The timed steps of a logical restore, named once: the report and the measurements find them by these. */
export const RESTORE_STEPS = {
  createDatabase: "Create scratch database",
  download: "Download and decrypt dump",
  pgRestore: "Restore from pg_dump",
} as const;

/**
 * The steps a recovery records after the restore (the drill's recovery of PostgreSQL):
 * named beside the restore's so the report and the projection match them from one place.
 */
export const RECOVERY_STEPS = {
  smokeChecks: "Run smoke checks",
  cleanup: "Cleanup",
} as const;

/** `dr_drill_restore_20261124_030026`: the drill prefix and a timestamp. */
export function scratchDatabaseName(date = new Date()): string {
  return `dr_drill_restore_${date.toISOString().replace(/[-:]/g, "").replace("T", "_").slice(0, 15)}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
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
  /**
   * Replace an existing database of that name (CLI `--replace`). Only ever a dr-drill
   * scratch database that nobody is connected to and that is unchanged since dr-drill
   * restored it; anything else is refused even then.
   */
  replace?: boolean;
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
  /** Local disk the restore used: the size of the decrypted archive file pg_restore read (removed afterwards). */
  localDiskBytes: number;
  /** The folder that file was in (a temporary folder under it). */
  localDir: string;
}

/** True when two endpoints name the same server (host and port). */
function sameServer(a: PostgresEndpoint, b: PostgresEndpoint): boolean {
  const norm = (h: string) => (h === "localhost" || h === "::1" ? "127.0.0.1" : h);
  return norm(a.host) === norm(b.host) && a.port === b.port;
}

/**
 * What dr-drill wrote in a scratch database's COMMENT: when it created it, and, once the
 * restore finished, which backup and the fingerprint of the database at that moment.
 * `dr-drill scratch database (created 2026-…Z; restoring)` while pg_restore runs, then
 * `dr-drill scratch database (created 2026-…Z; restored postgres-…; fingerprint 1f0c…)`.
 */
interface ScratchMark {
  createdAt: string;
  backupId?: string;
  fingerprint?: string;
}

function formatMark(mark: ScratchMark): string {
  return mark.fingerprint
    ? `${SCRATCH_COMMENT} (created ${mark.createdAt}; restored ${mark.backupId}; fingerprint ${mark.fingerprint})`
    : `${SCRATCH_COMMENT} (created ${mark.createdAt}; restoring)`;
}

/** Read a scratch mark back; undefined when the comment is not dr-drill's. Older dr-drill wrote `(<iso>)` alone: a mark without fingerprint. */
function parseMark(comment: string | null): ScratchMark | undefined {
  if (!comment?.startsWith(SCRATCH_COMMENT)) return undefined;
  const done = /\(created (\S+); restored (\S+); fingerprint ([0-9a-f]{32})\)$/.exec(comment);
  if (done) return { createdAt: done[1]!, backupId: done[2]!, fingerprint: done[3]! };
  const created = /\((?:created )?([^;)\s]+)/.exec(comment);
  return { createdAt: created?.[1] ?? "an unknown time" };
}

/**
 * A fingerprint of everything a user of the database could have changed: per user
 * relation (tables, indexes, sequences, views, matviews) its OID, kind, file node (changed
 * by TRUNCATE, VACUUM FULL, CLUSTER, a rewriting ALTER) and column count, plus its
 * inserted/updated/deleted tuple counters (pg_stat_all_tables: every committed write bumps
 * them, and a session flushes them before it disappears from pg_stat_activity), plus the
 * sum and count of xmin over the catalogs DDL rewrites (any CREATE/ALTER/DROP/COMMENT of a
 * table, column, function, type, constraint, trigger, view, schema writes a new row version).
 * What the server does on its own leaves it alone: autovacuum and ANALYZE update pg_class in
 * place (same xmin) and write only pg_statistic, which is not included. Lost statistics (a
 * crash, pg_stat_reset) change it too, in the safe direction: "changed", nothing dropped.
 * Undefined when track_counts is off (writes would go unseen).
 */
async function readFingerprint(endpoint: PostgresEndpoint): Promise<string | undefined> {
  const client = await connectPostgres(endpoint);
  try {
    const { rows: [counts] } = await client.query<{ track_counts: string }>("SELECT current_setting('track_counts') AS track_counts");
    if (counts?.track_counts !== "on") return undefined;
    const catalogs = ["pg_class", "pg_attribute", "pg_attrdef", "pg_proc", "pg_type", "pg_constraint", "pg_trigger", "pg_rewrite", "pg_namespace", "pg_index", "pg_description"];
    const catalogSums = catalogs.map((c) => `(SELECT count(*)::text || '/' || coalesce(sum(xmin::text::bigint), 0)::text FROM pg_catalog.${c})`).join(" || ',' || ");
    const { rows: [row] } = await client.query<{ fingerprint: string }>(
      `SELECT md5(
         coalesce((SELECT string_agg(concat_ws(':', c.oid, c.relkind, c.relfilenode, c.relnatts,
                                              coalesce(s.n_tup_ins, -1), coalesce(s.n_tup_upd, -1), coalesce(s.n_tup_del, -1)), ',' ORDER BY c.oid)
                     FROM pg_catalog.pg_class c
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                     LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
                    WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'), '')
         || '|' || ${catalogSums}) AS fingerprint`,
    );
    return row?.fingerprint;
  } finally {
    await client.end();
  }
}

/** Client sessions connected to a database other than our own admin connection (autovacuum workers do not count: DROP stops them). */
async function readSessions(admin: pg.Client, database: string): Promise<{ count: number; who: string }> {
  const { rows: [row] } = await admin.query<{ count: string; who: string | null }>(
    `SELECT count(*) AS count,
            string_agg(DISTINCT coalesce(nullif(usename, ''), '?') || coalesce(' (' || nullif(application_name, '') || ')', ''), ', ') AS who
       FROM pg_catalog.pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    [database],
  );
  return { count: Number(row?.count ?? 0), who: row?.who ?? "" };
}

/** Wait up to `ms` for sessions to leave (our own just-closed connections take a moment to go); the last count. */
async function waitForNoSessions(admin: pg.Client, database: string, ms: number): Promise<{ count: number; who: string }> {
  const deadline = performance.now() + ms;
  for (;;) {
    const sessions = await readSessions(admin, database);
    if (sessions.count === 0 || performance.now() > deadline) return sessions;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The comment of a database, or undefined when there is no such database. */
async function readComment(admin: pg.Client, database: string): Promise<{ comment: string | null } | undefined> {
  const { rows } = await admin.query<{ comment: string | null }>(
    "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_catalog.pg_database WHERE datname = $1",
    [database],
  );
  return rows[0];
}

/**
 * Prove an existing scratch database may be dropped: it carries dr-drill's mark with a
 * fingerprint, nobody is connected, and its fingerprint is the one recorded after the
 * restore. Anything else is a refusal naming the reason: it may have been promoted.
 */
async function assertDroppable(admin: pg.Client, into: PostgresEndpoint, mark: ScratchMark, verb: string): Promise<void> {
  const name = describePostgres(into);
  const refuse = (reason: string, hint: string) => new DrError("RESTORE_REFUSED", `unable to ${verb} database '${name}': ${reason}`, { hint, exitCode: 2 });
  const dropByHand = `if you are sure it holds nothing anyone needs, drop it yourself (DROP DATABASE ${quoteIdent(into.database)}), or choose another name`;
  if (!mark.fingerprint) {
    throw refuse(`it is a dr-drill scratch database created ${mark.createdAt}, but its restore never finished (or an older dr-drill made it), so nothing tells whether it changed since`, dropByHand);
  }
  const sessions = await waitForNoSessions(admin, into.database, 3_000);
  if (sessions.count > 0) {
    throw refuse(`it is in use (${sessions.count} session${sessions.count === 1 ? "" : "s"}: ${sessions.who})`, "someone may be using it as a live database: disconnect them first, or choose another name");
  }
  const now = await readFingerprint(into);
  if (now !== mark.fingerprint) {
    throw refuse(
      now === undefined
        ? "track_counts is off on that server, so dr-drill cannot tell whether it changed since it was restored"
        : `it changed since dr-drill restored backup ${mark.backupId} into it (rows written or its schema altered, or its statistics were reset)`,
      `it may have been promoted to a live database: ${dropByHand}`,
    );
  }
  // Our fingerprint connection is gone from pg_stat_activity before the DROP looks.
  await waitForNoSessions(admin, into.database, 3_000);
}

/** DROP DATABASE without FORCE: someone who connected since the checks makes it fail, and that is a refusal. */
async function dropChecked(admin: pg.Client, into: PostgresEndpoint, verb: string): Promise<void> {
  try {
    await admin.query(`DROP DATABASE ${quoteIdent(into.database)}`);
  } catch (error) {
    if ((error as { code?: string }).code === "55006") {
      throw new DrError("RESTORE_REFUSED", `unable to ${verb} database '${describePostgres(into)}': someone connected to it meanwhile`, {
        cause: error,
        hint: "someone may be using it as a live database: disconnect them first, or choose another name",
        exitCode: 2,
      });
    }
    throw error;
  }
}

/**
 * Refuse a restore that could touch data: into the source database, into any existing
 * database unless `replace` is given, and even then into anything but a dr-drill scratch
 * database that is unused and unchanged since its restore. Returns whether it exists.
 */
export async function assertRestorable(into: PostgresEndpoint, source: PostgresEndpoint | undefined, replace = false): Promise<boolean> {
  if (source && sameServer(into, source) && into.database === source.database) {
    throw new DrError("RESTORE_REFUSED", `unable to restore into database '${describePostgres(into)}': it is the source database`, {
      hint: "restore into a new database name; dr-drill creates it",
      exitCode: 2,
    });
  }
  const admin = await connectPostgres(into, "postgres");
  try {
    const existing = await readComment(admin, into.database);
    if (!existing) return false;
    const mark = parseMark(existing.comment);
    if (!mark) {
      throw new DrError("RESTORE_REFUSED", `unable to restore into database '${describePostgres(into)}': it already exists and is not a dr-drill scratch database`, {
        hint: "choose a database name that does not exist; dr-drill creates it",
        exitCode: 2,
      });
    }
    if (!replace) {
      throw new DrError("RESTORE_REFUSED", `unable to restore into database '${describePostgres(into)}': it already exists (a dr-drill scratch database created ${mark.createdAt})`, {
        hint: "choose a new database name, or pass --replace to replace it (done only when nobody is connected and it is unchanged since dr-drill restored it)",
        exitCode: 2,
      });
    }
    await assertDroppable(admin, into, mark, "replace");
    return true;
  } finally {
    await admin.end();
  }
}

/**
 * Create the target database (after dropping the scratch database `replace` allowed, checked
 * again right before the DROP) with a mark saying the restore is under way. Returns the mark.
 */
async function createScratchDatabase(into: PostgresEndpoint, exists: boolean, mark: ScratchMark): Promise<void> {
  const admin = await connectPostgres(into, "postgres");
  try {
    if (exists) {
      const existing = await readComment(admin, into.database);
      const found = existing && parseMark(existing.comment);
      if (existing && !found) throw new DrError("RESTORE_REFUSED", `unable to replace database '${describePostgres(into)}': it is no longer a dr-drill scratch database`, { exitCode: 2 });
      if (found) {
        await assertDroppable(admin, into, found, "replace");
        await dropChecked(admin, into, "replace");
      }
    }
    await admin.query(`CREATE DATABASE ${quoteIdent(into.database)} TEMPLATE template0`);
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(into.database)} IS ${quoteLiteral(formatMark(mark))}`);
  } finally {
    await admin.end();
  }
}

/** After pg_restore: wait for its sessions to go (their statistics are flushed by then), then record the fingerprint in the mark. */
async function markRestored(into: PostgresEndpoint, mark: ScratchMark, backupId: string): Promise<void> {
  const admin = await connectPostgres(into, "postgres");
  try {
    await waitForNoSessions(admin, into.database, 30_000);
    const fingerprint = await readFingerprint(into);
    if (!fingerprint) return;
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(into.database)} IS ${quoteLiteral(formatMark({ ...mark, backupId, fingerprint }))}`);
  } finally {
    await admin.end();
  }
}

/**
 * Drop the database this very restore created and did not finish (a failure, a signal):
 * FORCE, because pg_restore's own sessions may still be in it. Only when its mark is still
 * the one this run wrote (same creation time, still "restoring").
 */
async function dropUnfinished(into: PostgresEndpoint, mark: ScratchMark): Promise<boolean> {
  const admin = await connectPostgres(into, "postgres");
  try {
    const existing = await readComment(admin, into.database);
    if (!existing) return false;
    if (existing.comment !== formatMark(mark)) return false;
    await admin.query(`DROP DATABASE ${quoteIdent(into.database)} WITH (FORCE)`);
    return true;
  } finally {
    await admin.end();
  }
}

/**
 * Drop a scratch database: only one dr-drill created, that nobody is connected to and that
 * is unchanged since its restore (see readFingerprint); anything else is refused. No such
 * database is not an error.
 */
export async function dropScratchDatabase(into: PostgresEndpoint): Promise<void> {
  const admin = await connectPostgres(into, "postgres");
  try {
    const existing = await readComment(admin, into.database);
    if (!existing) return;
    const mark = parseMark(existing.comment);
    if (!mark) {
      throw new DrError("RESTORE_REFUSED", `unable to drop database '${describePostgres(into)}': it is not a dr-drill scratch database`);
    }
    await assertDroppable(admin, into, mark, "drop");
    await dropChecked(admin, into, "drop");
  } finally {
    await admin.end();
  }
}

const PG_RESTORE_TIMEOUT_MS = 12 * 3_600_000;

/**
 * The environment of pg_restore: libpq's for the target database, plus, with more than one
 * job, `PGOPTIONS=-c max_parallel_maintenance_workers=0` for its sessions. The jobs are the
 * parallelism already (one index build per job); PostgreSQL's parallel index builds on top
 * of them (2 workers each by default) start more processes than there are cores and split
 * each build's maintenance_work_mem between them, so the sorts spill. 1 GB fixture, plain
 * `pg_restore -j2` from a local file, 5 interleaved rounds on 2 cores: 12.7-14.6 s with the
 * option (one outlier at 32 s) against 14.6-17.8 s without. A user-settable option of the
 * restore's own sessions: the server's configuration is not touched.
 */
export function pgRestoreEnv(into: PostgresEndpoint, jobs: number): Record<string, string> {
  const env = postgresEnv(into, into.database);
  if (jobs > 1) env.PGOPTIONS = "-c max_parallel_maintenance_workers=0";
  return env;
}

/** The download step's word on the archive's data positions. */
function describeIndex(index: ArchiveIndex): string {
  return "indexed" in index ? `data positions of ${index.indexed} entries written into its TOC` : `TOC left as it was: ${index.skipped}`;
}

/**
 * Two pieces of work that run at once and fail together: the first failure aborts the other
 * and is the one reported (a failed CREATE is not hidden behind the "aborted" it caused in
 * the download, nor a corrupt download behind anything after it).
 */
function failTogether(abort: AbortController): <T>(work: Promise<T>) => Promise<T> {
  let first: { error: unknown } | undefined;
  return (work) => {
    const joined = (async () => {
      try {
        return await work;
      } catch (error) {
        first ??= { error };
        abort.abort();
        throw first.error;
      }
    })();
    // Awaited later (or not at all when an earlier step failed): never an unhandled rejection meanwhile.
    joined.catch(() => undefined);
    return joined;
  };
}

/**
 * Restore a PostgreSQL backup: the download starts at once (GET -> SHA-256 -> age ->
 * SHA-256 -> [the stock zstd -d writing the file itself, when the manifest says zstd] -> temp
 * file (written from this process with a 4 MiB write buffer otherwise);
 * parallel pg_restore needs a seekable file; the folder is registered for removal from the
 * moment it exists) while the scratch database is created and the file is scanned for its
 * data positions right behind the writer; once the file is complete and checked against the
 * manifest, the positions are written into its TOC (indexArchiveOffsets), then `pg_restore --jobs N --no-owner --no-acl --exit-on-error`;
 * then the database's fingerprint is recorded in its mark. Steps follow
 * each other in wall time (their durations add up): creating the database (download under
 * way), the rest of the download, pg_restore. A failure or a signal drops the
 * half-restored database this run created and removes the plaintext dump.
 *
 * Measured and set aside (issue 14): feeding the same decrypted stream to
 * `pg_restore --section=pre-data --section=data` on stdin while the file is written, then
 * `--section=post-data --jobs N` from the file. On this 2-core machine under load it was
 * slower (3 interleaved rounds, 1 GB: 120/100/84 s against 108/82/64 s): the data load from
 * a pipe runs with one job where -j N loads N tables at once, and there is no idle core for
 * the download to hide in.
 */
export async function restorePostgres(options: RestorePostgresOptions): Promise<PostgresRestoreResult> {
  const recorder = options.recorder ?? new StepRecorder();
  const part = options.manifest.parts[0];
  if (!part) throw new DrError("INTEGRITY_FAILED", `unable to restore backup '${options.manifest.id}': its manifest lists no parts`);
  // Both only read: the tool's version and the target's state are asked at once.
  const [tool, exists] = await Promise.all([readToolVersion("pg_restore"), assertRestorable(options.into, options.source, options.replace ?? false)]);
  if (options.manifest.postgres) assertToolNotOlder("pg_restore", tool.version, options.manifest.postgres.serverVersion);

  // Registered before the CREATE: a signal from here on drops what this run created (recognised by its mark).
  const mark: ScratchMark = { createdAt: new Date().toISOString() };
  let creating: Promise<void> | undefined;
  const unregisterDrop = registerCleanup(async () => {
    // A signal during the download can land while CREATE DATABASE and its mark are still on
    // their way: the server finishes them whatever happens to us, so look only once they settled.
    await creating?.catch(() => undefined);
    await dropUnfinished(options.into, mark);
  });
  let work: string | undefined;
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const together = failTogether(abort);
  const pending: Promise<unknown>[] = [];
  let created = false;
  try {
    work = await makeTempDir("pg-restore");
    // The temp file holds the archive as pg_dump wrote it: larger than the stored part when dr-drill compressed it.
    await assertFreeSpace(work, options.manifest.postgres?.archiveBytes ?? part.plainSize, `the dump of backup '${options.manifest.id}'`);
    const dumpFile = join(work, "restore.dump");
    const download = together(downloadPartToFile({ ...partOf(options, part), signal, decryptInChild: true }, dumpFile, { decode: (file, highWaterMark) => dumpFileSink(options.manifest, file, highWaterMark) }));
    pending.push(download);
    // The archive is scanned for its data positions right behind the download's writer; they are written once the download is checked.
    const index = indexArchiveOffsets(dumpFile, { writing: download });
    index.catch(() => undefined);
    pending.push(index);
    const create = together(createScratchDatabase(options.into, exists, mark));
    creating = create;
    await recorder.run(RESTORE_STEPS.createDatabase, () => create, () => `created ${options.into.database} (download under way)`);
    created = true;
    // Once the download is checked: the data positions pg_dump could not write to a pipe go into the file's TOC.
    const downloaded = await recorder.run(
      RESTORE_STEPS.download,
      async () => ({ ...(await download), index: await index }),
      (r) => `${formatBytes(r.storedBytes)} downloaded, ${formatBytes(r.plainBytes)} dump, SHA-256 verified; ${describeIndex(r.index)}`,
    );
    const localDiskBytes = (await stat(dumpFile)).size;
    const args = [`--dbname=${options.into.database}`, `--jobs=${options.jobs}`, "--no-owner", "--no-acl", "--exit-on-error", "--no-password", dumpFile];
    const env = pgRestoreEnv(options.into, options.jobs);
    const restoreStarted = performance.now();
    await recorder.run(
      RESTORE_STEPS.pgRestore,
      () => runCommand(tool.path, args, { env, timeoutMs: PG_RESTORE_TIMEOUT_MS, signal }),
      () => `pg_restore --jobs=${options.jobs} --no-owner --no-acl${env.PGOPTIONS ? ", one index build per job" : ""}`,
    );
    const restoreMs = performance.now() - restoreStarted;
    await removeTempDir(work);
    work = undefined;
    const client = await connectPostgres(options.into);
    const { rows } = await client.query<{ bytes: string }>("SELECT pg_database_size(current_database()) AS bytes");
    await client.end();
    await markRestored(options.into, mark, options.manifest.id);
    return {
      database: describePostgres(options.into),
      dumpBytes: downloaded.plainBytes,
      storedBytes: downloaded.storedBytes,
      restoredBytes: Number(rows[0]?.bytes ?? 0),
      restoreMs,
      localDiskBytes,
      localDir: dirname(dirname(dumpFile)),
    };
  } catch (error) {
    abort.abort();
    // The download stops before its file is removed.
    await Promise.allSettled(pending);
    // Refused or failed before the CREATE took effect: nothing of ours in the server to speak of.
    if (!created) throw error;
    let note: string;
    try {
      if (work) await removeTempDir(work);
      const dropped = await dropUnfinished(options.into, mark);
      note = `Nothing of this restore was left behind: ${dropped ? `the half-restored database '${options.into.database}' was dropped` : `database '${options.into.database}' is gone`} and the decrypted dump was removed.`;
    } catch (cleanupError) {
      note = `Left behind: the half-restored database '${options.into.database}' could not be dropped (${messageOf(cleanupError)}): drop it by hand.`;
    }
    throw withLeftBehind(error, "PostgreSQL", describePostgres(options.into), note);
  } finally {
    unregisterDrop();
    if (work) await removeTempDir(work).catch(() => undefined);
  }
}
