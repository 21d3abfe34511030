import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { StageRedis } from "../../targets/index.ts";
import { copyProductionMedia, copyProductionPostgres, copyProductionRedis, measureHeartbeatLoss, waitForAppError, type ProductionPostgres } from "./production-copy.ts";
import { checkServerSet, provisionPostgres, serverSetSteps, type ServerSetStage } from "./restore-server-set.ts";
import type { Scenario } from "./scenario.ts";

/** The server-failure scenario's state: the doomed server set, then the new one. */
export interface ServerFailureStage extends ProductionPostgres, ServerSetStage {
  redis: StageRedis;
  redisDir: string;
  mediaDir: string;
  resumedAfter?: Date;
}

export const SERVER_FAILURE_STEPS = {
  kill: "Kill PostgreSQL and Redis (SIGKILL)",
  wipe: "Delete their data directories and the media folder",
  detect: "Detect: the application cannot write",
  provision: "Provision a new server",
  restore: "Restore PostgreSQL, Redis and media in parallel",
  check: "Smoke checks; Redis and media compared",
  writes: "Point the application at the new server; writes resume",
} as const;

/**
 * Complete server failure: PostgreSQL and Redis are killed with SIGKILL and their data
 * directories and the media folder deleted; a new server is provisioned and the three are
 * restored in parallel, checked, and the application pointed at the new server writes
 * again. RTO: the declared failure to writes resumed (after all three are verified).
 */
export const serverFailure: Scenario<ServerFailureStage> = {
  id: "server-failure",
  title: "Complete server failure",
  fault: "PostgreSQL and Redis killed with SIGKILL; their data directories and the media folder deleted",
  symptom: "the host does not answer: connections refused or timing out, 502 from the load balancer",
  needs: ["writable-source", "server-copies"],
  prepare: async (ctx) => {
    const [pg, redis, mediaDir] = await Promise.all([copyProductionPostgres(ctx, "pg-server-failure"), copyProductionRedis(ctx), copyProductionMedia(ctx)]);
    return { ctx, database: ctx.source.postgres.database, ...pg, redis: redis.redis, redisDir: redis.dir, mediaDir };
  },
  inject: [
    { name: SERVER_FAILURE_STEPS.kill, command: () => "kill -9 $(pidof postgres redis-server)   # the host is gone", run: async (s) => {
      await Promise.all([s.server.kill(), s.redis.kill()]);
      return `postmaster (port ${s.server.endpoint.port}) and redis-server (port ${s.redis.endpoint.port}) killed`;
    } },
    { name: SERVER_FAILURE_STEPS.wipe, run: async (s) => {
      await Promise.all([rm(s.server.dataDir, { recursive: true, force: true }), rm(join(s.redisDir, "dump.rdb"), { force: true }), rm(s.mediaDir, { recursive: true, force: true })]);
      return `${s.server.dataDir}, ${join(s.redisDir, "dump.rdb")} and ${s.mediaDir} deleted`;
    } },
    { name: SERVER_FAILURE_STEPS.detect, run: async (s) => await waitForAppError(s.app) },
  ],
  recover: [{
    name: "New server, restored in parallel",
    steps: [
      { name: SERVER_FAILURE_STEPS.provision, command: () => "# provision the host (your IaC), install PostgreSQL and Redis", run: async (s) => {
        const { server, manifest } = await provisionPostgres(s.ctx, s.ctx.storage);
        s.newServer = server;
        s.newest = manifest;
        return `PostgreSQL ${server.version} on ${server.endpoint.host}:${server.endpoint.port}`;
      } },
      ...serverSetSteps<ServerFailureStage>(SERVER_FAILURE_STEPS, "primary", (s) => s.ctx.storage),
      { name: SERVER_FAILURE_STEPS.writes, command: () => "# point DATABASE_URL / DNS at the new host; systemctl restart gunicorn celery", run: async (s) => {
        s.resumedAfter = new Date();
        s.app.pointAt({ ...s.newServer!.endpoint, database: s.database });
        const at = await s.app.waitForWrite(s.resumedAfter);
        return `first heartbeat on the new server at ${at.toISOString()}`;
      } },
    ],
    verify: async (s, failureAt) => ({
      // Smoke checks as run before the application wrote again; Redis and media checked again now.
      checks: [...(s.checks ?? []).filter((c) => c.name.startsWith("smoke: ")), ...(await checkServerSet(s.ctx, s.restored!, s.database, { smoke: false }))],
      ...(await measureHeartbeatLoss(s.app, { ...s.newServer!.endpoint, database: s.database }, failureAt)),
    }),
  }],
  dispose: async (s) => {
    await s.app.stop();
    await s.newServer?.stop();
  },
};
