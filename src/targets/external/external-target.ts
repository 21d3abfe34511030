import { stat } from "node:fs/promises";
import { connectPostgres, connectRedis, describePostgres, describeRedis, parsePostgresUrl, parseRedisUrl, readServerVersion } from "../../clients/index.ts";
import type { DrConfig } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import { startNativePostgres } from "../native/native-postgres.ts";
import { startNativeRedis } from "../native/native-redis.ts";
import type { StartedPostgres, StartedRedis, StartedTarget } from "../target.ts";

/**
 * Servers that already exist, named by DR_* variables. They are only ever read from:
 * restores go to scratch servers started on this machine, never to the source.
 */
export async function startExternalTarget(config: DrConfig): Promise<StartedTarget> {
  const external = config.external;
  if (!external) {
    throw new DrError("CONFIG_MISSING", "unable to start target 'external': DR_DATABASE_URL, DR_REDIS_URL, DR_MEDIA_DIR and DR_S3_BUCKET are not set", {
      hint: "set them, or use DR_TARGET=native for the embedded servers",
    });
  }
  const postgres = parsePostgresUrl(external.databaseUrl);
  const redis = parseRedisUrl(external.redisUrl);

  // Reachability up front, each failure naming its variable (exit code 2).
  const pg = await connectPostgres(postgres, postgres.database, "DR_DATABASE_URL");
  await pg.end();
  const redisClient = await connectRedis(redis, "DR_REDIS_URL");
  redisClient.disconnect();
  const mediaStat = await stat(external.mediaDir).catch(() => undefined);
  if (!mediaStat?.isDirectory()) {
    throw new DrError("CONFIG_INVALID", `unable to open media folder '${external.mediaDir}': not a directory (from DR_MEDIA_DIR)`, {
      hint: "point DR_MEDIA_DIR at the folder your application stores uploads in",
    });
  }
  const pgVersion = await readServerVersion(postgres);

  const scratch = new Set<StartedPostgres | StartedRedis>();
  const track = <T extends StartedPostgres | StartedRedis>(server: T): T => {
    scratch.add(server);
    const original = server.stop;
    server.stop = async () => {
      scratch.delete(server);
      await original();
    };
    server[Symbol.asyncDispose] = server.stop;
    return server;
  };
  const stop = async () => {
    await Promise.allSettled([...scratch].map((s) => s.stop()));
  };

  return {
    kind: "external",
    postgres,
    redis,
    mediaDir: external.mediaDir,
    s3: {
      endpoint: external.s3.endpoint,
      region: external.s3.region,
      bucket: external.s3.bucket,
      prefix: external.s3.prefix,
      credentials: undefined,
      forcePathStyle: external.s3.endpoint !== undefined,
      capabilities: {},
    },
    readOnlySource: true,
    startScratchPostgres: async () => track(await startNativePostgres({ label: "pg-scratch" })),
    startScratchRedis: async (rdbFile) => track(await startNativeRedis({ rdbFile, label: "redis-scratch" })),
    describe: () => ({
      kind: "external",
      postgres: `PostgreSQL ${pgVersion} (${describePostgres(postgres)})`,
      redis: `Redis (${describeRedis(redis)})`,
      s3: `s3://${external.s3.bucket}/${external.s3.prefix}${external.s3.endpoint ? ` at ${external.s3.endpoint}` : ""}`,
    }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
