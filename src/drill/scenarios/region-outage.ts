import { setTimeout as sleep } from "node:timers/promises";
import { connectPostgres } from "../../clients/index.ts";
import type { PostgresEndpoint } from "../../clients/endpoints.ts";
import { COMPONENTS, formatBytes } from "../../config/index.ts";
import { messageOf } from "../../errors/index.ts";
import { listCompleteBackups, listCompleteDumps } from "../../manifest/index.ts";
import { replicateBackup } from "../../repository/index.ts";
import { createStorage, type S3Storage } from "../../storage/index.ts";
import type { StagePostgres, StageS3 } from "../../targets/index.ts";
import { copyProductionPostgres, measureHeartbeatLoss, smokeChecks, waitForAppError, type ProductionPostgres } from "./production-copy.ts";
import { provisionPostgres, requirePassed, serverSetSteps, type ServerSetStage } from "./restore-server-set.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";

/** A region: its S3 endpoint and the repository on it. */
interface Region {
  s3: StageS3;
  storage: S3Storage;
}

/** The region-outage scenario's state: region A (primary, endpoint A), region B (replica, endpoint B). */
export interface RegionOutageStage extends ProductionPostgres, ServerSetStage {
  replica: StagePostgres;
  a: Region;
  b: Region;
  /** Backups copied to region B, and the ones region A has that B lacks (the replica repository's lag). */
  copied: number;
  lagging: string[];
  /** The replica's WAL receiver status just before region A failed ("streaming", or why not). */
  replicaState?: string;
  /** Path 1: when the application was pointed at the promoted replica. */
  resumedAfter?: Date;
}

export const REGION_OUTAGE_STEPS = {
  fail: "Region A fails: primary PostgreSQL and S3 endpoint A killed (SIGKILL)",
  detect: "Detect: the application cannot write; endpoint A does not answer",
  replicaStreaming: "Check the replica was streaming when region A failed",
  promote: "Promote the replica in region B (pg_promote)",
  replicaSmoke: "Smoke checks on the promoted replica",
  writes: "Point the application at region B; writes resume",
  provision: "Provision a new server in region B",
  restore: "Restore region B's newest backups in parallel (replica repository)",
  check: "Smoke checks; Redis and media compared",
} as const;

/** Wait until the primary shows a streaming replica, up to timeoutMs. */
async function waitForStreaming(primary: PostgresEndpoint, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = await connectPostgres(primary, "postgres");
  try {
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ state: string }>("SELECT state FROM pg_stat_replication");
      if (rows.some((r) => r.state === "streaming")) return;
      await sleep(100);
    }
  } finally {
    await client.end();
  }
  throw new Error(`the replica did not start streaming within ${timeoutMs} ms`);
}

/** The replica's WAL receiver status ("streaming"), or a line saying there is none. */
async function readReceiverState(replica: PostgresEndpoint): Promise<string> {
  const client = await connectPostgres(replica, "postgres");
  try {
    const { rows } = await client.query<{ status: string }>("SELECT status FROM pg_stat_wal_receiver");
    return rows[0]?.status ?? "no WAL receiver running";
  } finally {
    await client.end();
  }
}

/** How many of each component's newest complete backups the regions get: the newest, and the one a restore falls back to. */
const REGION_BACKUPS = 2;

/**
 * Copy each component's newest complete backups (dumps, RDBs, media snapshots) of the
 * drill's repository into region A's repository, then region A's into region B's with the
 * same copy `dr-drill backup` makes to a replica repository (manifest last). Components go
 * side by side. The test fault leaves the newest PostgreSQL backup out of region B.
 */
async function fillRegions(ctx: ScenarioContext, a: S3Storage, b: S3Storage): Promise<{ copied: number; lagging: string[] }> {
  const perComponent = await Promise.all(COMPONENTS.map(async (component) => {
    const backups = (await listCompleteDumps(ctx.storage, component)).slice(-REGION_BACKUPS);
    const newest = backups.at(-1);
    let copied = 0;
    for (const manifest of backups) {
      await replicateBackup(ctx.storage, a, manifest);
      if (ctx.faults.replicaMissingNewest && component === "postgres" && manifest === newest) continue;
      await replicateBackup(a, b, manifest);
      copied += 1;
    }
    const inB = new Set((await listCompleteBackups(b, component)).map((m) => m.id));
    return { copied, lagging: backups.filter((m) => !inB.has(m.id)).map((m) => m.id) };
  }));
  return { copied: perComponent.reduce((sum, c) => sum + c.copied, 0), lagging: perComponent.flatMap((c) => c.lagging) };
}

/**
 * Region outage: region A (the primary PostgreSQL and S3 endpoint A) stops hard. Path 1,
 * the runbook's: promote the streaming replica in region B and point the application at
 * it (RPO: the heartbeats the replica had not received). Path 2, for a site with no
 * replica: provision a server in region B and restore region B's copies of the backups
 * (RPO: the restored backup's loss). Recovery uses nothing in region A.
 */
export const regionOutage: Scenario<RegionOutageStage> = {
  id: "region-outage",
  title: "Region outage",
  fault: "region A stops hard: the primary PostgreSQL and S3 endpoint A killed with SIGKILL",
  symptom: "everything in region A times out: database, object storage, the load balancer",
  needs: ["writable-source", "server-copies"],
  prepare: async (ctx) => {
    const production = await copyProductionPostgres(ctx, "pg-region-a");
    const replica = await ctx.stage.copyPostgres(production.server.endpoint, { standby: true, label: "pg-region-b" });
    await waitForStreaming(production.server.endpoint);
    if (ctx.faults.replicaNotStreaming) {
      // The test fault: the replica stops receiving WAL (a broken link nobody noticed).
      const client = await connectPostgres(replica.endpoint, "postgres");
      try {
        await client.query("ALTER SYSTEM SET primary_conninfo = ''");
        await client.query("SELECT pg_reload_conf()");
      } finally {
        await client.end();
      }
      for (let i = 0; i < 100 && (await readReceiverState(replica.endpoint)) === "streaming"; i += 1) await sleep(100);
    }
    const [s3a, s3b] = await Promise.all([ctx.stage.startS3("region-a"), ctx.stage.startS3("region-b")]);
    const a = { s3: s3a, storage: createStorage(s3a.endpoint) };
    const b = { s3: s3b, storage: createStorage(s3b.endpoint) };
    const { copied, lagging } = await fillRegions(ctx, a.storage, b.storage);
    return { ctx, database: ctx.source.postgres.database, ...production, replica, a, b, copied, lagging };
  },
  inject: [
    { name: REGION_OUTAGE_STEPS.fail, run: async (s) => {
      s.replicaState = await readReceiverState(s.replica.endpoint).catch((error: unknown) => `unreadable: ${messageOf(error)}`);
      await Promise.all([s.server.kill(), s.a.s3.kill()]);
      return `primary (port ${s.server.endpoint.port}) and endpoint A (${s.a.s3.endpoint.endpoint}) killed; the replica's WAL receiver was '${s.replicaState}'`;
    } },
    { name: REGION_OUTAGE_STEPS.detect, run: async (s) => {
      const appError = await waitForAppError(s.app);
      const endpointError = await s.a.storage.check().then(() => undefined, (error: unknown) => messageOf(error).split("\n")[0]);
      if (!endpointError) throw new Error("endpoint A still answers");
      return `application: ${appError}; endpoint A: ${endpointError}`;
    } },
  ],
  recover: [
    {
      name: "Path 1: promote the replica",
      steps: [
        { name: REGION_OUTAGE_STEPS.replicaStreaming, command: () => "psql -h REPLICA -c 'SELECT status, latest_end_time FROM pg_stat_wal_receiver'", run: async (s) => {
          if (s.replicaState !== "streaming") throw new Error(`the replica was not streaming when region A failed (WAL receiver: ${s.replicaState}): promoting it would lose everything since it stopped`);
          return "WAL receiver 'streaming' at the failure";
        } },
        { name: REGION_OUTAGE_STEPS.promote, command: () => "psql -h REPLICA -c 'SELECT pg_promote(wait => true)'", run: async (s) => {
          const client = await connectPostgres(s.replica.endpoint, "postgres");
          try {
            const { rows } = await client.query<{ promoted: boolean }>("SELECT pg_promote(true, 60) AS promoted");
            if (!rows[0]?.promoted) throw new Error("pg_promote did not finish within 60 s");
            return `promoted: pg_is_in_recovery() = ${(await client.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0]?.r}`;
          } finally {
            await client.end();
          }
        } },
        // No manifest: the replica holds more than any backup, so row counts have nothing to be equal to.
        { name: REGION_OUTAGE_STEPS.replicaSmoke, command: () => "python manage.py check   # against the promoted replica", run: async (s) => requirePassed((await smokeChecks(s.replica.endpoint, undefined, s.ctx)).checks) },
        { name: REGION_OUTAGE_STEPS.writes, command: () => "# point DATABASE_URL / DNS at region B; systemctl restart gunicorn celery", run: async (s) => {
          s.resumedAfter = new Date();
          s.app.pointAt(s.replica.endpoint);
          const at = await s.app.waitForWrite(s.resumedAfter);
          return `first heartbeat on the promoted replica at ${at.toISOString()}`;
        } },
      ],
      verify: async (s, failureAt) => {
        const writes = s.app.committed.filter((at) => at.getTime() > s.resumedAfter!.getTime()).length;
        return {
          checks: [{ name: "the application writes to the promoted replica", status: writes > 0 ? "passed" : "failed", detail: `${writes} heartbeats since it was pointed at region B` }],
          ...(await measureHeartbeatLoss(s.app, s.replica.endpoint, failureAt)),
        };
      },
    },
    {
      name: "Path 2: restore region B's backups",
      steps: [
        { name: REGION_OUTAGE_STEPS.provision, command: () => "# provision a host in region B", run: async (s) => {
          const { server, manifest } = await provisionPostgres(s.ctx, s.b.storage);
          s.newServer = server;
          s.newest = manifest;
          return `PostgreSQL ${server.version} on ${server.endpoint.host}:${server.endpoint.port}; newest dump in region B: ${manifest.id} (${formatBytes(manifest.storedBytes)})`;
        } },
        ...serverSetSteps<RegionOutageStage>(REGION_OUTAGE_STEPS, "replica", (s) => s.b.storage),
      ],
      verify: async (s, failureAt) => ({
        checks: [
          ...(s.checks ?? []),
          { name: "region B's repository had region A's newest backups", status: s.lagging.length ? "failed" : "passed", detail: s.lagging.length ? `missing in region B: ${s.lagging.join(", ")} (restored ${s.newest?.id} instead)` : `${s.copied} backups copied, none missing` },
        ],
        ...(await measureHeartbeatLoss(s.app, { ...s.newServer!.endpoint, database: s.database }, failureAt)),
      }),
    },
  ],
  dispose: async (s) => {
    await s.app.stop();
    await s.newServer?.stop();
    s.a.storage.client.destroy();
    s.b.storage.client.destroy();
  },
};
