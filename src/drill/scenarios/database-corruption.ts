import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { connectPostgres } from "../../clients/index.ts";
import { formatBytes } from "../../config/index.ts";
import { restorePostgres } from "../../components/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Check } from "../../measure/verdict.ts";
import { backupPostgresPhysical } from "../../components/postgres/physical-backup.ts";
import { restorePostgresPhysical } from "../../components/postgres/physical-restore.ts";
import { startRestoredPostgres, type RestoredPostgres } from "../../components/postgres/restored-postgres.ts";
import { startWalStream, type WalStreamer } from "../../components/wal/wal-stream.ts";
import { makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import { createStorage, type S3Storage } from "../../storage/index.ts";
import { postgresOsUser } from "../../exec/index.ts";
import { copyProductionPostgres, measureHeartbeatLoss, newestDump, smokeChecks, type ProductionPostgres } from "./production-copy.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";

/** The busy table whose page is damaged (the fixture's payments). */
const DAMAGED_TABLE = "payments_payment";
const PAGE_BYTES = 8192;
/** Bytes overwritten inside the page (past its header, so only the checksum can tell). */
const DAMAGE_OFFSET = 1024;
const DAMAGE_BYTES = 256;
/** The application's query: it reads every row of the table (an index-only count would not touch the heap). */
const APP_QUERY = `SELECT count(*) AS n, sum(length(t::text)) AS bytes FROM ${DAMAGED_TABLE} t`;

/** The corruption scenario's state. */
export interface DatabaseCorruptionStage extends ProductionPostgres {
  ctx: ScenarioContext;
  database: string;
  /** Point-in-time recovery: the copy's WAL streamed to a repository of the stage, with a base backup taken first. */
  pitr: { storage: S3Storage; streamer: WalStreamer; baseBackupId: string; restoreDir: string; restored?: RestoredPostgres; resumedAfter?: Date };
  /** Just before the page was damaged: the point-in-time recovery's target. */
  corruptedAt?: Date;
  /** The error the application's query got (PostgreSQL's own). */
  detected?: string;
  restored?: BackupManifest;
  /** When the corrupted database stopped taking connections (the swap). */
  swappedAt?: Date;
}

export const DATABASE_CORRUPTION_STEPS = {
  corrupt: `Corrupt a page of ${DAMAGED_TABLE} on disk`,
  detect: "Detect: the application's query fails with PostgreSQL's checksum error",
  restore: "Restore the newest good backup into <db>_new on the same server",
  smoke: "Run smoke checks on <db>_new",
  swap: "Swap the databases (ALTER DATABASE … RENAME)",
  writes: "The application reconnects and writes again",
  pitrFlush: "Stop the WAL stream (its last WAL uploaded)",
  pitrRestore: "Restore the base backup + WAL to just before the corruption",
  pitrStart: "Start the recovered server (recovery to the target, then promote)",
  pitrWrites: "Point the application at the recovered server; writes resume",
} as const;

/** The slot the copy's WAL stream holds. */
const SLOT = "dr_drill_corruption";

/**
 * The copy's WAL streamed to an S3 endpoint of the stage (pg_receivewal --synchronous over a
 * slot, uploaded every half second), and a physical base backup taken while it streams: what
 * a site running `dr-drill wal stream` and nightly `backup --physical` has.
 */
async function startPointInTime(ctx: ScenarioContext, production: ProductionPostgres): Promise<DatabaseCorruptionStage["pitr"]> {
  const s3 = await ctx.stage.startS3("corruption-wal");
  const storage = createStorage(s3.endpoint);
  const spoolDir = await ctx.stage.makeDir("corruption-wal-spool");
  const streamer = await startWalStream({ storage, recipients: ctx.recipients, postgres: production.server.endpoint, spoolDir, slot: SLOT, intervalMs: 500 });
  const base = await backupPostgresPhysical({ storage, config: ctx.config, postgres: production.server.endpoint, redis: ctx.source.redis, mediaDir: ctx.source.mediaDir, recipients: ctx.recipients });
  const restoreDir = await makeTempDir("corruption-pitr", postgresOsUser());
  return { storage, streamer, baseBackupId: base.id, restoreDir };
}

/** Quote an identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Damage one page of a busy table in the data directory while the server is down (a
 * checkpoint first, so the page on disk is current), then start it again: the next read
 * of that page comes from disk and fails PostgreSQL's data checksum.
 */
async function corruptPage(stage: DatabaseCorruptionStage): Promise<string> {
  const client = await connectPostgres(stage.server.endpoint);
  let file: string;
  let blocks: number;
  try {
    const { rows: [checksums] } = await client.query<{ data_checksums: string }>("SHOW data_checksums");
    if (checksums?.data_checksums !== "on") throw new Error("the server runs without data checksums (initdb --data-checksums): a damaged page would go unnoticed");
    const { rows: [rel] } = await client.query<{ path: string; bytes: string }>("SELECT pg_relation_filepath($1) AS path, pg_relation_size($1) AS bytes", [DAMAGED_TABLE]);
    if (!rel) throw new Error(`table ${DAMAGED_TABLE} not found`);
    file = rel.path;
    blocks = Math.floor(Number(rel.bytes) / PAGE_BYTES);
    if (blocks < 1) throw new Error(`table ${DAMAGED_TABLE} has no pages`);
    await client.query("CHECKPOINT");
    // The server's clock: the recovery target is compared with its commit timestamps.
    const { rows: [now] } = await client.query<{ at: Date }>("SELECT clock_timestamp() AS at");
    stage.corruptedAt = now!.at;
    // A commit after the target (a transaction with an id writes a commit record): recovery to
    // the target stops at the first commit after it, so that record must be in the archive.
    await client.query("SELECT pg_current_xact_id()");
  } finally {
    await client.end();
  }
  // pg_receivewal holds that commit before the server goes down, as at a site whose stream
  // kept running: the recovery does not wait out pg_receivewal's 5 s reconnect pause after the
  // restart below, and stopping the stream uploads it. (Waiting for the upload here as well
  // put 1 s more of heartbeats between the target and the damage: 6 rows lost against 1.)
  await stage.pitr.streamer.catchUp(60_000, { upload: false });
  const block = Math.floor(blocks / 2);
  await stage.server.halt();
  const handle = await open(join(stage.server.dataDir, file), "r+");
  try {
    await handle.write(randomBytes(DAMAGE_BYTES), 0, DAMAGE_BYTES, block * PAGE_BYTES + DAMAGE_OFFSET);
  } finally {
    await handle.close();
  }
  await stage.server.start();
  return `${DAMAGE_BYTES} bytes of block ${block}/${blocks} of ${file} overwritten with the server down; restarted so the page is read from disk`;
}

/**
 * Database corruption: a page of a busy table is damaged on disk; the application's query
 * fails with PostgreSQL's own checksum error (detection); the runbook restores the newest
 * good backup into `<db>_new` on the same server, runs the smoke checks, swaps the names
 * with ALTER DATABASE … RENAME, and the application reconnects and writes again. RTO: the
 * declared failure to the first write on the restored database; RPO: the heartbeats the
 * application wrote that the restored database lacks.
 */
export const databaseCorruption: Scenario<DatabaseCorruptionStage> = {
  id: "database-corruption",
  title: "Database corruption",
  fault: `a page of ${DAMAGED_TABLE} overwritten on disk (data checksums on)`,
  symptom: "`ERROR: invalid page in block X of relation base/…` (after `WARNING: page verification failed`)",
  needs: ["writable-source", "server-copies"],
  prepare: async (ctx) => {
    const production = await copyProductionPostgres(ctx, "pg-corruption");
    return { ctx, database: ctx.source.postgres.database, ...production, pitr: await startPointInTime(ctx, production) };
  },
  inject: [
    { name: DATABASE_CORRUPTION_STEPS.corrupt, run: corruptPage },
    { name: DATABASE_CORRUPTION_STEPS.detect, command: () => `psql -c "${APP_QUERY}"`, run: async (s) => {
      const client = await connectPostgres(s.server.endpoint);
      try {
        const outcome = await client.query(APP_QUERY).then(() => undefined, (e: unknown) => (e as Error).message);
        if (!outcome) throw new Error(`the query over ${DAMAGED_TABLE} succeeded: the damaged page was not detected`);
        if (!/invalid page|checksum/i.test(outcome)) throw new Error(`the query failed, but not with a page error: ${outcome}`);
        s.detected = outcome;
        return outcome;
      } finally {
        await client.end().catch(() => undefined);
      }
    } },
  ],
  recover: [{
    name: "Restore into <db>_new and swap",
    steps: [
      {
        name: DATABASE_CORRUPTION_STEPS.restore,
        command: (s) => `dr-drill restore postgres --latest --into postgres://${s.server.endpoint.user}@${s.server.endpoint.host}:${s.server.endpoint.port}/${s.database}_new`,
        run: async (s) => {
          const manifest = await newestDump(s.ctx.storage);
          const restored = await restorePostgres({
            storage: s.ctx.storage,
            manifest,
            identities: s.ctx.identities,
            into: { ...s.server.endpoint, database: `${s.database}_new` },
            source: s.server.endpoint,
            jobs: s.ctx.config.postgres.restoreJobs,
          });
          s.restored = manifest;
          return `${manifest.id} into ${s.database}_new: ${formatBytes(restored.restoredBytes)} database`;
        },
      },
      { name: DATABASE_CORRUPTION_STEPS.smoke, command: () => "python manage.py check && python manage.py migrate --check   # as smoke.commands", run: async (s) => {
        const { checks, line } = await smokeChecks({ ...s.server.endpoint, database: `${s.database}_new` }, s.restored, s.ctx);
        if (checks.some((c) => c.status === "failed")) throw new Error(line);
        return line;
      } },
      {
        name: DATABASE_CORRUPTION_STEPS.swap,
        command: (s) => [
          `psql -d postgres -c 'ALTER DATABASE ${ident(s.database)} WITH ALLOW_CONNECTIONS false'`,
          `psql -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${s.database}'"`,
          `psql -d postgres -c 'ALTER DATABASE ${ident(s.database)} RENAME TO ${ident(`${s.database}_corrupted`)}'`,
          `psql -d postgres -c 'ALTER DATABASE ${ident(`${s.database}_new`)} RENAME TO ${ident(s.database)}'`,
          `psql -d postgres -c 'COMMENT ON DATABASE ${ident(s.database)} IS NULL'`,
        ].join("\n"),
        run: async (s) => {
          const admin = await connectPostgres(s.server.endpoint, "postgres");
          try {
            // No new connection may reach the damaged database between the terminate and the rename.
            await admin.query(`ALTER DATABASE ${ident(s.database)} WITH ALLOW_CONNECTIONS false`);
            const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [s.database]);
            await admin.query(`ALTER DATABASE ${ident(s.database)} RENAME TO ${ident(`${s.database}_corrupted`)}`);
            s.swappedAt = new Date();
            await admin.query(`ALTER DATABASE ${ident(`${s.database}_new`)} RENAME TO ${ident(s.database)}`);
            // The restored database is production now, no longer a dr-drill scratch database.
            await admin.query(`COMMENT ON DATABASE ${ident(s.database)} IS NULL`);
            return `${rowCount ?? 0} connections ended; ${s.database} -> ${s.database}_corrupted, ${s.database}_new -> ${s.database}`;
          } finally {
            await admin.end();
          }
        },
      },
      { name: DATABASE_CORRUPTION_STEPS.writes, command: () => "systemctl restart gunicorn celery", run: async (s) => {
        const at = await s.app.waitForWrite(s.swappedAt!);
        return `first heartbeat on the restored database at ${at.toISOString()}`;
      } },
    ],
    verify: async (s, failureAt) => {
      const client = await connectPostgres(s.server.endpoint);
      const checks: Check[] = [];
      try {
        const read = await client.query<{ n: string }>(APP_QUERY).then((r) => ({ ok: true, detail: `${r.rows[0]?.n} rows read, no page error` }), (e: unknown) => ({ ok: false, detail: (e as Error).message }));
        checks.push({ name: `${DAMAGED_TABLE} reads without error`, status: read.ok ? "passed" : "failed", detail: read.detail });
      } finally {
        await client.end();
      }
      const after = s.app.committed.filter((at) => at.getTime() > s.swappedAt!.getTime()).length;
      checks.push({ name: "the application writes to the restored database", status: after > 0 ? "passed" : "failed", detail: `${after} heartbeats since the swap` });
      // The application kept writing to the damaged database until the swap cut it off: those writes are lost too.
      return { checks, ...(await measureHeartbeatLoss(s.app, s.server.endpoint, failureAt, s.swappedAt)) };
    },
  }, {
    name: "Point-in-time recovery to just before the corruption",
    steps: [
      { name: DATABASE_CORRUPTION_STEPS.pitrFlush, command: () => "systemctl stop dr-drill-wal-stream   # flushes the segment in progress", run: async (s) => {
        // The WAL up to the first commit after the target was received before the damage (corruptPage).
        await s.pitr.streamer.stop();
        return "pg_receivewal stopped, its last WAL uploaded";
      } },
      {
        name: DATABASE_CORRUPTION_STEPS.pitrRestore,
        command: (s) => `dr-drill restore postgres --physical --to-time '${s.corruptedAt?.toISOString()}' --into /var/lib/postgresql/15/recovered`,
        run: async (s) => {
          const restored = await restorePostgresPhysical({ storage: s.pitr.storage, identities: s.ctx.identities, into: join(s.pitr.restoreDir, "data"), target: { kind: "time", time: s.corruptedAt! } });
          return `${restored.backupId}: ${restored.walFiles} WAL files (${restored.walRange}), target ${restored.target}`;
        },
      },
      { name: DATABASE_CORRUPTION_STEPS.pitrStart, command: () => "pg_ctl -D /var/lib/postgresql/15/recovered start   # as the postgres user", run: async (s) => {
        s.pitr.restored = await startRestoredPostgres(join(s.pitr.restoreDir, "data"), { database: s.database });
        const { reached } = s.pitr.restored;
        return `reached ${reached.lsn}, last transaction ${reached.lastTransactionAt}, timeline ${reached.timeline}`;
      } },
      { name: DATABASE_CORRUPTION_STEPS.pitrWrites, command: () => "# point DATABASE_URL at the recovered server; systemctl restart gunicorn celery", run: async (s) => {
        s.pitr.resumedAfter = new Date();
        s.app.pointAt(s.pitr.restored!.endpoint);
        const at = await s.app.waitForWrite(s.pitr.resumedAfter);
        return `first heartbeat on the recovered server at ${at.toISOString()}`;
      } },
    ],
    verify: async (s, failureAt) => {
      const endpoint = s.pitr.restored!.endpoint;
      const client = await connectPostgres(endpoint);
      const checks: Check[] = [];
      try {
        const read = await client.query<{ n: string }>(APP_QUERY).then((r) => ({ ok: true, detail: `${r.rows[0]?.n} rows read, no page error` }), (e: unknown) => ({ ok: false, detail: (e as Error).message }));
        checks.push({ name: `${DAMAGED_TABLE} reads without error`, status: read.ok ? "passed" : "failed", detail: read.detail });
        const { rows: [after] } = await client.query<{ n: string }>("SELECT count(*) AS n FROM dr_heartbeat WHERE written_at > $1 AND written_at <= $2", [s.corruptedAt, failureAt]);
        const late = Number(after?.n ?? 0);
        checks.push({ name: "nothing after the target", status: late === 0 ? "passed" : "failed", detail: `${late} heartbeats from between the corruption and the failure` });
      } finally {
        await client.end();
      }
      const writes = s.app.committed.filter((at) => at.getTime() > s.pitr.resumedAfter!.getTime()).length;
      checks.push({ name: "the application writes to the recovered server", status: writes > 0 ? "passed" : "failed", detail: `${writes} heartbeats since it was pointed there` });
      return { checks, ...(await measureHeartbeatLoss(s.app, endpoint, failureAt)) };
    },
  }],
  dispose: async (s) => {
    await s.app.stop();
    await s.pitr.restored?.stop();
    await s.pitr.streamer.stop().catch(() => undefined);
    s.pitr.storage.client.destroy();
    await removeTempDir(s.pitr.restoreDir);
  },
};
