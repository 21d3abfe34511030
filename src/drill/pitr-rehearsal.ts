import { join } from "node:path";
import { connectPostgres } from "../clients/index.ts";
import type { PostgresEndpoint } from "../clients/endpoints.ts";
import type { BackupContext } from "../components/backup-context.ts";
import { backupPostgresPhysical } from "../components/postgres/physical-backup.ts";
import { restorePostgresPhysical } from "../components/postgres/physical-restore.ts";
import { startRestoredPostgres } from "../components/postgres/restored-postgres.ts";
import { dropWalStreamSlot, startWalStream, type WalStreamer } from "../components/wal/wal-stream.ts";
import { messageOf } from "../errors/index.ts";
import { makeTempDir, removeTempDir } from "../lifecycle/index.ts";
import type { Storage } from "../storage/storage.ts";
import { postgresOsUser } from "../exec/index.ts";
import type { StepRecorder } from "../measure/step-recorder.ts";

/** The table the "accidental DELETE" hits (no other table refers to it) and how many rows go. */
const VICTIM_TABLE = "payments_payment";
const VICTIM_ROWS = 100;
/** Replication slot of the rehearsal's streamer (dropped when it stops). */
const SLOT = "dr_drill_rehearsal";

/** What the point-in-time recovery of the rehearsal measured. */
export interface PitrResult {
  /** passed / failed / not verified, with the reason in detail. */
  verdict: "passed" | "failed" | "not verified";
  detail: string;
  /** The physical base backup restored. */
  baseBackupId?: string;
  /** When the rows were deleted (server clock), and the recovery target (one second before). */
  deletedAt?: string;
  targetTime?: string;
  /** Rows deleted, and how many of them the recovered database holds again. */
  rowsDeleted?: number;
  rowsBack?: number;
  /** Heartbeats written after the target found in the recovered database (must be 0). */
  heartbeatsAfterTarget?: number;
  /** Target minus the newest heartbeat recovered: the data lost before the moment asked for, ms (the PITR RPO). */
  lossMs?: number;
  /** Restore (download, untar, WAL) and recovery to the target, ms. */
  rtoMs?: number;
  /** WAL files the restore fetched, and where recovery stopped. */
  walFiles?: number;
  reachedLsn?: string;
}

/**
 * Point-in-time recovery in the rehearsal: the source streams its WAL to the repository
 * (pg_receivewal --synchronous over a slot) from before the first backup, a physical base
 * backup is taken beside the dumps, an "accidental DELETE" removes rows at a recorded
 * moment while the application keeps writing, and after the declared failure the
 * database is restored to one second before the DELETE. The rows must be back and no
 * heartbeat from after that moment present.
 */
export interface PitrRehearsal {
  /** Take the physical base backup (its WAL is streamed meanwhile). */
  baseBackup(recorder: StepRecorder): Promise<void>;
  /** Delete rows now, recording the moment. */
  accidentalDelete(recorder: StepRecorder): Promise<void>;
  /** Stop streaming (flushing what was written), restore to one second before the DELETE, check. */
  recover(recorder: StepRecorder, storage: Storage, identities: readonly string[]): Promise<PitrResult>;
  /** Stop the streamer and drop its slot (idempotent). */
  stop(): Promise<void>;
}

/** Start streaming the source's WAL into the repository for the rehearsal. */
export async function startPitrRehearsal(ctx: BackupContext): Promise<PitrRehearsal> {
  const spool = await makeTempDir("wal-spool");
  let streamer: WalStreamer | undefined;
  try {
    streamer = await startWalStream({ storage: ctx.storage, recipients: ctx.recipients, postgres: ctx.postgres, spoolDir: spool, slot: SLOT, intervalMs: 500 });
  } catch (error) {
    await removeTempDir(spool);
    throw error;
  }
  const result: PitrResult = { verdict: "not verified", detail: "the rehearsal did not reach the point-in-time recovery" };
  // A streamer that gives up (the bucket refuses writes) is a finding of the recovery, not a crash.
  let streamFailure: string | undefined;
  streamer.done.catch((error: unknown) => {
    streamFailure = messageOf(error).split("\n")[0];
  });
  let deletedIds: number[] = [];
  const stop = async () => {
    const running = streamer;
    streamer = undefined;
    if (running) {
      await running.stop().catch(() => undefined);
      await dropWalStreamSlot(ctx.postgres, SLOT).catch(() => undefined);
    }
    await removeTempDir(spool);
  };
  return {
    baseBackup: async (recorder) => {
      const manifest = await recorder.run("Back up postgres (physical base backup)", () => backupPostgresPhysical(ctx), (m) => `${m.id}: ${m.storedBytes} bytes stored, WAL ${m.physical?.startWalFile}..${m.physical?.stopWalFile} archived`);
      result.baseBackupId = manifest.id;
    },
    accidentalDelete: async (recorder) => {
      await recorder.run("Accidental DELETE (fault injected)", async () => {
        const client = await connectPostgres(ctx.postgres);
        try {
          const { rows } = await client.query<{ id: number; at: Date }>(
            `DELETE FROM ${VICTIM_TABLE} WHERE id IN (SELECT id FROM ${VICTIM_TABLE} ORDER BY id DESC LIMIT ${VICTIM_ROWS}) RETURNING id, clock_timestamp() AS at`,
          );
          deletedIds = rows.map((r) => Number(r.id));
          result.rowsDeleted = rows.length;
          result.deletedAt = rows[0]?.at.toISOString();
        } finally {
          await client.end();
        }
      }, () => `${result.rowsDeleted} rows of ${VICTIM_TABLE} deleted at ${result.deletedAt}`);
    },
    recover: async (recorder, storage, identities) => {
      if (!result.deletedAt || !result.baseBackupId) return { ...result, verdict: "failed", detail: `no base backup or no DELETE to recover from${streamFailure ? ` (WAL stream: ${streamFailure})` : ""}` };
      const target = new Date(Date.parse(result.deletedAt) - 1000);
      result.targetTime = target.toISOString();
      const started = Date.now();
      const work = await makeTempDir("pitr-restore", postgresOsUser());
      try {
        await recorder.run("Stop the WAL stream (flush)", () => stop(), () => "pg_receivewal stopped, its last WAL uploaded");
        const restored = await recorder.run("Restore base backup + WAL to one second before the DELETE", () => restorePostgresPhysical({ storage, identities, into: join(work, "data"), target: { kind: "time", time: target } }), (r) =>
          `${r.backupId}: ${r.walFiles} WAL files (${r.walRange}), target ${r.target}`);
        result.walFiles = restored.walFiles;
        const server = await recorder.run("Recover to the target and promote", () => startRestoredPostgres(restored.dataDir, { database: ctx.postgres.database }), (s) =>
          `reached ${s.reached.lsn}, last transaction ${s.reached.lastTransactionAt}, in ${s.reached.recoveryMs.toFixed(0)} ms`);
        try {
          result.reachedLsn = server.reached.lsn;
          result.rtoMs = Date.now() - started;
          await recorder.run("Check: rows back, nothing after the target", async () => checkRecovered(server.endpoint, deletedIds, target, result), () => `${result.rowsBack}/${result.rowsDeleted} rows back, ${result.heartbeatsAfterTarget} heartbeats after the target, loss ${result.lossMs} ms before it`);
        } finally {
          await server.stop();
        }
        const ok = result.rowsBack === result.rowsDeleted && result.heartbeatsAfterTarget === 0 && result.lossMs !== undefined && result.lossMs >= 0;
        result.verdict = ok ? "passed" : "failed";
        result.detail = ok
          ? `${result.rowsBack}/${result.rowsDeleted} deleted rows back, no heartbeat after ${result.targetTime}, ${result.lossMs} ms of heartbeats lost before it`
          : `recovered to ${result.targetTime}: ${result.rowsBack}/${result.rowsDeleted} rows back, ${result.heartbeatsAfterTarget} heartbeats after the target, loss ${result.lossMs} ms`;
      } catch (error) {
        result.verdict = "failed";
        result.detail = `${messageOf(error).split("\n")[0]!}${streamFailure ? ` (WAL stream: ${streamFailure})` : ""}`;
      } finally {
        await removeTempDir(work);
      }
      return result;
    },
    stop,
  };
}

/** Count the deleted rows present again and the heartbeats after the target; the loss before it. */
async function checkRecovered(endpoint: PostgresEndpoint, ids: readonly number[], target: Date, result: PitrResult): Promise<void> {
  const client = await connectPostgres(endpoint);
  try {
    const back = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${VICTIM_TABLE} WHERE id = ANY($1::bigint[])`, [ids]);
    result.rowsBack = Number(back.rows[0]?.n ?? 0);
    const beats = await client.query<{ after: string; newest: Date | null }>(
      "SELECT count(*) FILTER (WHERE written_at > $1) AS after, max(written_at) FILTER (WHERE written_at <= $1) AS newest FROM dr_heartbeat",
      [target],
    );
    result.heartbeatsAfterTarget = Number(beats.rows[0]?.after ?? 0);
    const newest = beats.rows[0]?.newest;
    result.lossMs = newest ? target.getTime() - newest.getTime() : undefined;
  } finally {
    await client.end();
  }
}
