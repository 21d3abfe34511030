import { randomBytes } from "node:crypto";
import { findFreePort, makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import type { ScenarioStage } from "../stage.ts";
import { startNativePostgres } from "./native-postgres.ts";
import { startNativeRedis } from "./native-redis.ts";
import { startNativeS3 } from "./native-s3.ts";

/**
 * A failure scenario's stage on this machine: PostgreSQL copies made with pg_basebackup
 * (run as the `postgres` OS user when we are root), redis-server and fauxqs processes,
 * each on 127.0.0.1 and an ephemeral port, all stopped and removed with the stage.
 */
export function startNativeStage(): ScenarioStage {
  const stoppers: (() => Promise<void>)[] = [];
  const own = <T extends { stop(): Promise<void> }>(thing: T): T => {
    stoppers.push(() => thing.stop());
    return thing;
  };
  const stop = async () => {
    for (const stopOne of stoppers.splice(0).reverse()) await stopOne().catch(() => undefined);
  };
  return {
    describe: () => "native copies on this machine (pg_basebackup, redis-server, fauxqs)",
    copyPostgres: async (source, options = {}) =>
      own(await startNativePostgres({ copyOf: { endpoint: source, standby: options.standby }, database: source.database, label: options.label ?? "pg-stage" })),
    startRedis: async ({ dir, port, password }) =>
      own(await startNativeRedis({ restartOf: { dir, port: port ?? (await findFreePort()), password: password ?? randomBytes(18).toString("base64url") }, debugCommand: true })),
    startS3: async (bucket) => own(await startNativeS3(bucket)),
    makeDir: async (label) => {
      const dir = await makeTempDir(label);
      stoppers.unshift(() => removeTempDir(dir));
      return dir;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
