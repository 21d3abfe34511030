import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, registerCleanup, removeTempDir } from "../../lifecycle/index.ts";
import type { StartedPostgres, StartedRedis, StartedTarget, TargetDescription } from "../target.ts";
import { startNativePostgres } from "./native-postgres.ts";
import { startNativeRedis } from "./native-redis.ts";
import { startNativeS3, type StartedS3 } from "./native-s3.ts";
import { startNativeSandbox } from "./native-sandbox.ts";
import { startNativeStage } from "./native-stage.ts";

/** The native target as started: its servers, plus what tests need to prove cleanup. */
export interface NativeTarget extends StartedTarget {
  /** Every process this target started (scratch servers included while running). */
  pids(): number[];
  /** Every temporary folder this target made. */
  dirs(): string[];
}

/** Source database name the native target creates (the fixture's Django database). */
export const NATIVE_SOURCE_DATABASE = "deltacrown";

/** Stop everything given, newest first, and remove the media folder; errors are collected. */
async function stopAll(stoppers: (() => Promise<void>)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const stop of [...stoppers].reverse()) {
    try {
      await stop();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length) throw new AggregateError(errors, "unable to stop every native server");
}

/**
 * Start the embedded default: real PostgreSQL, real Redis and a local S3 endpoint, in
 * parallel, each on 127.0.0.1 with an ephemeral port and its own temporary folder, plus an
 * empty media folder. If one fails to start, the others are stopped before the error.
 */
export async function startNativeTarget(options: { stateDir?: string } = {}): Promise<NativeTarget> {
  const state = options.stateDir;
  const results = await Promise.allSettled([
    startNativePostgres({ database: NATIVE_SOURCE_DATABASE, label: "pg-source", stateDir: state && join(state, "postgres"), checksums: true }),
    startNativeRedis({ label: "redis-source", stateDir: state && join(state, "redis") }),
    startNativeS3("dr-drill-backups", state && join(state, "s3")),
    state ? mkdir(state, { recursive: true }).then(() => state) : makeTempDir("media"),
  ]);
  const [pgResult, redisResult, s3Result, mediaResult] = results;
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    await Promise.allSettled([
      pgResult.status === "fulfilled" ? pgResult.value.stop() : undefined,
      redisResult.status === "fulfilled" ? redisResult.value.stop() : undefined,
      s3Result.status === "fulfilled" ? s3Result.value.stop() : undefined,
      mediaResult.status === "fulfilled" && !state ? removeTempDir(mediaResult.value) : undefined,
    ]);
    throw failed.reason;
  }
  const postgres = (pgResult as PromiseFulfilledResult<StartedPostgres>).value;
  const redis = (redisResult as PromiseFulfilledResult<StartedRedis>).value;
  const s3 = (s3Result as PromiseFulfilledResult<StartedS3>).value;
  const mediaRoot = (mediaResult as PromiseFulfilledResult<string>).value;
  const mediaDir = join(mediaRoot, "media");
  await mkdir(mediaDir, { recursive: true });

  // Scratch servers come from the native sandbox: the target's stop also stops them.
  const sandbox = startNativeSandbox();
  const removeMedia = state ? async () => undefined : () => removeTempDir(mediaRoot);
  const unregisterMedia = registerCleanup(removeMedia);
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unregisterMedia();
    await stopAll([
      removeMedia,
      () => s3.stop(),
      () => redis.stop(),
      () => postgres.stop(),
      () => sandbox.stop(),
    ]);
  };

  const description: TargetDescription = {
    kind: "native",
    postgres: `PostgreSQL ${postgres.version} (local, ${postgres.endpoint.host}:${postgres.endpoint.port})`,
    redis: `Redis ${redis.version} (local, ${redis.endpoint.host}:${redis.endpoint.port})`,
    s3: `${s3.version} (local S3 endpoint, ${s3.endpoint.endpoint})`,
  };

  return {
    kind: "native",
    postgres: postgres.endpoint,
    redis: redis.endpoint,
    mediaDir,
    s3: s3.endpoint,
    readOnlySource: false,
    stages: { available: true, open: async () => startNativeStage() },
    startScratchPostgres: (options) => sandbox.startScratchPostgres(options),
    startScratchRedis: (rdbFile: string) => sandbox.startScratchRedis(rdbFile),
    describe: () => description,
    pids: () => [postgres.pid, redis.pid, s3.pid, ...sandbox.running().map((s) => s.pid)].filter((p): p is number => p !== undefined),
    dirs: () => (state ? sandbox.running().map((s) => s.dir) : [postgres.dir, redis.dir, s3.dir, mediaRoot, ...sandbox.running().map((s) => s.dir)]).filter((d): d is string => d !== undefined),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
