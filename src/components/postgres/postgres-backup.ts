import { pipeline } from "node:stream";
import type pg from "pg";
import { connectPostgres, describePostgres, postgresEnv } from "../../clients/index.ts";
import { DrError, messageOf } from "../../errors/index.ts";
import { commandError, describeCommand, startCommand } from "../../exec/index.ts";
import { type BackupManifest, backupFolder, makeBackupId, writeManifest } from "../../manifest/index.ts";
import { gateOnCompletion } from "../../streams/exit-gate.ts";
import { type BackupContext, describeEncryption, encryptedSuffix } from "../backup-context.ts";
import { DEFAULT_STALL_TIMEOUT_MS, UploadStalledError, describeStall, uploadPart } from "../upload-part.ts";
import { countRows, readLsn, readMigrations, readNewestHeartbeat } from "./postgres-facts.ts";
import { assertToolNotOlder, readToolVersion } from "./pg-tool-version.ts";
import { type DumpCompression, chooseDumpCompression, describeDumpCompression, pgDumpLevel, startDumpCompressor } from "./dump-compression.ts";

const DUMP_TIMEOUT_MS = 12 * 3_600_000;
/** How long removing a failed backup's stored parts may take before we stop waiting (the storage may be the thing that failed). */
const REMOVE_PARTS_MS = 15_000;

export interface PostgresBackupOptions {
  /** Fail when the upload makes no progress for this long, ms (default 150 s; see uploadPart). */
  stallTimeoutMs?: number;
  /** Take this as pg_dump's version instead of asking pg_dump (tests of the version check: a faked older client). */
  dumpVersion?: string;
  /** Compress this way instead of as the configuration says (the bench's side-by-side variants). */
  compression?: DumpCompression;
}

/** Remove what a failed backup stored, so nothing half-written lingers (best effort, bounded). */
async function removeParts(ctx: BackupContext, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, REMOVE_PARTS_MS);
  });
  await Promise.race([ctx.storage.deleteMany(keys).catch(() => undefined), giveUp]);
  clearTimeout(timer);
}

/** The server's version, `15.18` from `15.18 (Debian 15.18-1.pgdg120+1)`; never a silent "unknown". */
async function readServerVersion(client: pg.Client, source: string): Promise<string> {
  const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
  const version = rows[0]?.server_version?.split(" ")[0] ?? "";
  if (!/^\d+(\.\d+)*/.test(version)) {
    throw new DrError("BACKUP_FAILED", `unable to back up database '${source}': the server reported no usable version ('${version}')`, {
      hint: "the manifest must record the server version: the pg_dump/pg_restore version check depends on it",
    });
  }
  return version;
}

/**
 * Back up one PostgreSQL database: `pg_dump --format=custom` streamed through SHA-256 and
 * age encryption into a multipart upload, with no temp file. The dump runs on a snapshot
 * exported by our own transaction, so the row counts, migrations and LSN recorded in the
 * manifest describe exactly the dumped data. The manifest is written last.
 *
 * An upload that makes no progress for stallTimeoutMs (a frozen S3 endpoint) fails the
 * backup at once: pg_dump is killed (SIGTERM, SIGKILL after 5 s) and the snapshot
 * transaction's connection closed the moment the stall is seen, so the source is not left
 * with an `idle in transaction` session and a stuck pg_dump backend holding locks while
 * the dead endpoint's requests time out.
 */
export async function backupPostgres(ctx: BackupContext, options: PostgresBackupOptions = {}): Promise<BackupManifest> {
  const now = ctx.now ?? (() => new Date());
  const started = now();
  const id = makeBackupId("postgres", started);
  const source = describePostgres(ctx.postgres);
  const installed = await readToolVersion("pg_dump");
  const dumpTool = { ...installed, version: options.dumpVersion ?? installed.version };
  const client = await connectPostgres(ctx.postgres);
  // Closing the connection ends the snapshot transaction (the server rolls it back).
  let released: Promise<void> | undefined;
  const releaseSnapshot = (): Promise<void> => (released ??= client.end().catch(() => undefined));
  const stored: string[] = [];
  try {
    const serverVersion = await readServerVersion(client, source);
    assertToolNotOlder("pg_dump", dumpTool.version, serverVersion);

    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const { rows: [snap] } = await client.query<{ snapshot: string; at: Date; bytes: string }>(
      "SELECT pg_export_snapshot() AS snapshot, clock_timestamp() AS at, pg_database_size(current_database()) AS bytes",
    );
    const lsn = await readLsn(client);
    const compression = options.compression ?? chooseDumpCompression(ctx.config.postgres);
    const level = pgDumpLevel(compression);
    const args = ["--format=custom", `--compress=${level}`, `--snapshot=${snap!.snapshot}`, "--no-password"];
    const dump = startCommand(dumpTool.path, args, {
      env: postgresEnv(ctx.postgres),
      streamStdout: true,
      timeoutMs: DUMP_TIMEOUT_MS,
      signal: ctx.signal,
    });
    const finished = dump.then((result) => {
      if (result.failed) throw commandError(describeCommand(dumpTool.path, args), result, String(result.stderr ?? ""));
    });
    const gate = gateOnCompletion(finished);
    // pg_dump's own output, before any compression of ours: what a restore writes to its temp file.
    let archiveBytes = 0;
    dump.stdout!.on("data", (chunk: Buffer) => {
      archiveBytes += chunk.byteLength;
    });
    // zstd after the gate: a failed pg_dump errors the compressor's output too, never ends its frame.
    pipeline(dump.stdout!, gate, () => undefined);
    const compressor = startDumpCompressor(compression, gate, ctx.signal);
    const dumped = compressor?.output ?? gate;
    const stopCompressor = () => {
      compressor?.stop();
      dumped.destroy();
    };

    const key = `${backupFolder(id)}${ctx.postgres.database}.dump${encryptedSuffix(ctx.recipients)}`;
    const facts = (async () => ({
      tables: await countRows(client),
      migrations: await readMigrations(client),
      newestHeartbeat: await readNewestHeartbeat(client),
    }))();
    // A failed upload stops reading pg_dump's stdout; stop pg_dump too, or it would block on
    // a full pipe forever and the backup would never settle.
    const stopDump = (error: unknown): never => {
      dump.kill("SIGTERM");
      stopCompressor();
      throw error;
    };
    const settled = await Promise.allSettled([
      uploadPart({
        storage: ctx.storage,
        key,
        source: dumped,
        recipients: ctx.recipients,
        signal: ctx.signal,
        metadata: { "dr-drill-id": id, "backup-time": started.toISOString(), "db-version": serverVersion, "consistent-lsn": lsn },
        onProgress: (bytes) => ctx.onProgress?.("upload", bytes),
        stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
        // Do not wait for the dead endpoint's requests to time out: free the source now.
        onStall: () => {
          dump.kill("SIGTERM");
          stopCompressor();
          void releaseSnapshot();
        },
      }).then((part) => {
        stored.push(key);
        return part;
      }, stopDump),
      facts,
      finished,
    ] as const);
    // The upload's error says why first: when S3 refuses a part, pg_dump only sees its
    // stdout closed ("could not write to output file"), which would hide the real cause.
    for (const result of settled) if (result.status === "rejected") throw result.reason;
    const part = (settled[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof uploadPart>>>).value;
    const counted = (settled[1] as PromiseFulfilledResult<Awaited<typeof facts>>).value;
    await client.query("COMMIT");

    const manifest: BackupManifest = {
      formatVersion: 1,
      id,
      component: "postgres",
      source,
      startedAt: started.toISOString(),
      finishedAt: now().toISOString(),
      consistentAt: snap!.at.toISOString(),
      format: "pg_dump custom",
      compression: describeDumpCompression(compression),
      parts: [part],
      storedBytes: part.size,
      encryption: describeEncryption(ctx.recipients),
      tools: { pg_dump: dumpTool.version, node: process.versions.node },
      postgres: {
        serverVersion,
        dumpVersion: dumpTool.version,
        database: ctx.postgres.database,
        databaseBytes: Number(snap!.bytes),
        lsn,
        tables: counted.tables,
        migrations: counted.migrations,
        compressionLevel: level,
        archiveBytes,
        newestHeartbeat: counted.newestHeartbeat,
      },
    };
    await writeManifest(ctx.storage, manifest);
    return manifest;
  } catch (error) {
    // The source first: a failed backup must not keep its snapshot open while storage is cleaned.
    await releaseSnapshot();
    await removeParts(ctx, stored);
    if (error instanceof UploadStalledError) {
      throw new DrError("BACKUP_FAILED", `unable to back up database '${source}': upload to '${error.where}': ${describeStall(error.idleMs)}; the upload was aborted, pg_dump stopped and the snapshot transaction rolled back`, {
        hint: error.hint,
        cause: error,
      });
    }
    if (error instanceof DrError) throw error;
    throw new DrError("BACKUP_FAILED", `unable to back up database '${source}': ${messageOf(error)}`, { cause: error });
  } finally {
    await releaseSnapshot();
  }
}
