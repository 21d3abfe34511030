import { rm } from "node:fs/promises";
import { join } from "node:path";
import { connectRedis } from "../../clients/index.ts";
import { formatBytes } from "../../config/index.ts";
import { compareRedisWithManifest, restoreRedisToDir } from "../../components/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Check } from "../../measure/verdict.ts";
import type { StageRedis } from "../../targets/index.ts";
import { backupAgeRpo, copyProductionRedis, newestBackup, readRedisDigest } from "./production-copy.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";

/** The Redis scenario's state: its copy of the source Redis, before and after. */
export interface RedisFailureStage {
  ctx: ScenarioContext;
  redis: StageRedis;
  dir: string;
  /** Digest and count of the keys without expiry before the failure, and how many volatile keys were left out (readRedisDigest). */
  digest: string | undefined;
  keys: number;
  volatile: number;
  restored?: BackupManifest;
}

export const REDIS_FAILURE_STEPS = {
  kill: "Kill Redis (SIGKILL)",
  deleteRdb: "Delete its dump.rdb",
  detect: "Detect: Redis does not answer",
  restore: "Restore the newest RDB into its data directory",
  restart: "Start Redis on the same port",
} as const;

/**
 * Redis cache failure: Redis is killed and its dump.rdb deleted; the newest RDB is
 * restored into its data directory (SHA-256 and redis-check-rdb), Redis restarted on the
 * same port with the same password, and the dataset compared with the manifest (keys,
 * types, TTLs) and with the one before the failure (DEBUG DIGEST, when allowed).
 */
export const redisFailure: Scenario<RedisFailureStage> = {
  id: "redis-failure",
  title: "Redis cache failure",
  fault: "Redis killed with SIGKILL and its dump.rdb deleted",
  symptom: "`redis-cli PING` refused; sessions and cached pages gone; Celery cannot reach its broker",
  needs: ["writable-source", "server-copies"],
  prepare: async (ctx) => ({ ctx, ...(await copyProductionRedis(ctx)) }),
  inject: [
    { name: REDIS_FAILURE_STEPS.kill, command: () => "kill -9 $(pidof redis-server)", run: async (s) => {
      await s.redis.kill();
      return `redis-server on port ${s.redis.endpoint.port} killed`;
    } },
    { name: REDIS_FAILURE_STEPS.deleteRdb, command: (s) => `rm ${join(s.dir, "dump.rdb")}`, run: async (s) => {
      await rm(join(s.dir, "dump.rdb"));
      return `${join(s.dir, "dump.rdb")} deleted`;
    } },
    { name: REDIS_FAILURE_STEPS.detect, command: (s) => `redis-cli -p ${s.redis.endpoint.port} PING`, run: async (s) => {
      const answer = await connectRedis(s.redis.endpoint).then((c) => {
        c.disconnect();
        return "answered";
      }, (e: unknown) => (e as Error).message);
      if (answer === "answered") throw new Error("Redis still answers");
      return answer.split("\n")[0]!;
    } },
  ],
  recover: [{
    name: "Restore the newest RDB and restart Redis",
    steps: [
      { name: REDIS_FAILURE_STEPS.restore, command: (s) => `dr-drill restore redis --latest --into ${s.dir}`, run: async (s) => {
        const manifest = await newestBackup(s.ctx.storage, "redis");
        const restored = await restoreRedisToDir({ storage: s.ctx.storage, manifest, identities: s.ctx.identities }, s.dir);
        s.restored = manifest;
        return `${manifest.id}: ${formatBytes(restored.bytes)} dump.rdb, SHA-256 and redis-check-rdb ok`;
      } },
      { name: REDIS_FAILURE_STEPS.restart, command: () => "systemctl start redis && redis-cli PING", run: async (s) => {
        const { endpoint, dir } = s.redis;
        s.redis = await s.ctx.stage.startRedis({ dir, port: endpoint.port, password: endpoint.password });
        return `Redis ${s.redis.version} answers on port ${s.redis.endpoint.port}`;
      } },
    ],
    verify: async (s, failureAt) => {
      const comparison = await compareRedisWithManifest(s.redis.endpoint, s.restored!);
      const after = await readRedisDigest(s.redis.endpoint);
      const checks: Check[] = [
        { name: "keys, types and TTLs equal to the manifest", status: comparison.matches ? "passed" : "failed", detail: `keys ${JSON.stringify(comparison.keys.restored)} vs ${JSON.stringify(comparison.keys.expected)}` },
        s.digest && after.digest
          ? { name: "dataset equal to before the failure (DEBUG DIGEST-VALUE)", status: s.digest === after.digest ? "passed" : "failed", detail: `${after.digest.slice(0, 12)} vs ${s.digest.slice(0, 12)} before, over the ${after.keys} keys without expiry (${s.keys} before; ${after.volatile} volatile keys left out, ${s.volatile} before)` }
          : { name: "dataset equal to before the failure (DEBUG DIGEST-VALUE)", status: "not verified", detail: "the server refuses DEBUG (enable-debug-command)" },
      ];
      return { checks, ...backupAgeRpo(s.restored!, failureAt, "the restored RDB") };
    },
  }],
  dispose: async (s) => {
    await s.redis.stop();
  },
};
