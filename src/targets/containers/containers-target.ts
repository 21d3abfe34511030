import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { DrConfig } from "../../config/index.ts";
import { DrError, messageOf } from "../../errors/index.ts";
import { makeTempDir, registerCleanup, removeTempDir } from "../../lifecycle/index.ts";
import type { StartedTarget, TargetDescription } from "../target.ts";
import { type ContainerPostgres, startContainerPostgres } from "./container-postgres.ts";
import { type ContainerRedis, startContainerRedis } from "./container-redis.ts";
import { createContainerRun } from "./container-run.ts";
import { startContainersStage } from "./containers-stage.ts";
import { type ContainerS3, startContainerS3 } from "./container-s3.ts";
import { checkDockerEngine, checkImagesPresent, checkReaper, type ImageFacts } from "./docker-preflight.ts";

/** The containers target as started: its servers, plus what tests need to prove cleanup. */
export interface ContainersTarget extends StartedTarget {
  /** The label value every container of this target carries (`dr-drill.run=<id>`). */
  runId: string;
  /** Every container running for this target (scratch servers included while running). */
  containerIds(): string[];
  /** Every temporary folder this target made on this machine. */
  dirs(): string[];
}

/** Source database name (the fixture's Django database), as the native target has it. */
export const CONTAINERS_SOURCE_DATABASE = "deltacrown";

/** The bucket backups go to, as the native target has it. */
export const CONTAINERS_BUCKET = "dr-drill-backups";

/** `connect` replaces testcontainers' engine discovery (tests pass one that fails). */
export interface ContainersTargetOptions {
  connect?: Parameters<typeof checkDockerEngine>[0];
}

/** `dr-drill/postgres:15-offline [image id 3a1f40a2e4d6]`: the tag and the exact image behind it. */
function describeImage(image: ImageFacts): string {
  return `${image.name} [image id ${image.id.replace(/^sha256:/, "").slice(0, 12)}]`;
}

/** The parts started in parallel, in order, with what to check when one fails. */
const START_PARTS = [
  { what: "the PostgreSQL container", hint: "DR_POSTGRES_IMAGE must follow the official postgres image (POSTGRES_PASSWORD, POSTGRES_DB, pg_isready on 5432)" },
  { what: "the Redis container", hint: "DR_REDIS_IMAGE must run `redis-server FILE.conf` as the official redis image does and log 'Ready to accept connections'" },
  { what: "the S3 container", hint: "DR_S3_IMAGE must serve S3 on port 4566 and log 'Ready' once it does, as LocalStack does" },
  { what: "making the media folder", hint: "check DR_TMPDIR (or the system temporary folder) is writable" },
];

/** The first failure, saying which part of the start failed and what to check; the cause is kept. */
function explainStartFailure(results: PromiseSettledResult<unknown>[]): DrError {
  const index = results.findIndex((result) => result.status === "rejected");
  const reason: unknown = (results[index] as PromiseRejectedResult).reason;
  const part = START_PARTS[index]!;
  return new DrError("TARGET_START_FAILED", `unable to start target 'containers': ${part.what} failed: ${messageOf(reason).trim()}`, {
    hint: `${part.hint}; DEBUG='testcontainers*' shows the containers' logs`,
    cause: reason,
  });
}

/**
 * Start PostgreSQL, Redis and an S3 endpoint as containers, in parallel, from the
 * configured images (never pulled: a missing engine or image fails first, with the way to
 * get it; this target is never silently replaced by another), plus an empty media folder
 * on this machine. Scratch servers are new containers of the same images. Everything
 * carries one run label, is stopped by `stop()`, and by SIGINT/SIGTERM through the
 * cleanup registry; if one container fails to start, the others are stopped first.
 */
export async function startContainersTarget(config: DrConfig, options: ContainersTargetOptions = {}): Promise<ContainersTarget> {
  const engine = await checkDockerEngine(options.connect);
  const images = await checkImagesPresent(engine.client, config.images);
  await checkReaper(engine.client);

  const run = createContainerRun(engine.client);
  // The media folder first (instant), so a stop during start-up knows to remove it.
  const mediaRoot = await makeTempDir("media");
  const mediaDir = join(mediaRoot, "media");
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unregister();
    const results = await Promise.allSettled([run.stopAll(), removeTempDir(mediaRoot)]);
    const errors = results.filter((result) => result.status === "rejected").map((result) => result.reason as unknown);
    if (errors.length) throw new AggregateError(errors, "unable to stop every container of target 'containers'");
  };
  // Registered before anything starts, so Ctrl-C during start-up removes what was created.
  const unregister = registerCleanup(stop);

  const results = await Promise.allSettled([
    startContainerPostgres({ image: images.postgres.name, database: CONTAINERS_SOURCE_DATABASE, run, source: true }),
    startContainerRedis({ image: images.redis.name, run }),
    startContainerS3({ image: images.s3.name, bucket: CONTAINERS_BUCKET, run }),
    mkdir(mediaDir, { recursive: true }),
  ]);
  const [pgResult, redisResult, s3Result] = results;
  if (results.some((result) => result.status === "rejected")) {
    await stop().catch(() => undefined);
    throw explainStartFailure(results);
  }
  const postgres = (pgResult as PromiseFulfilledResult<ContainerPostgres>).value;
  const redis = (redisResult as PromiseFulfilledResult<ContainerRedis>).value;
  const s3 = (s3Result as PromiseFulfilledResult<ContainerS3>).value;

  /** A scratch server started after stop() would outlive the target: refuse. */
  const assertRunning = () => {
    if (stopped) throw new DrError("TARGET_START_FAILED", `unable to start a scratch server on target 'containers' (run ${run.id}): the target is stopped`);
  };

  const description: TargetDescription = {
    kind: "containers",
    postgres: `PostgreSQL ${postgres.version} (container ${describeImage(images.postgres)}, ${postgres.endpoint.host}:${postgres.endpoint.port})`,
    redis: `Redis ${redis.version} (container ${describeImage(images.redis)}, ${redis.endpoint.host}:${redis.endpoint.port})`,
    s3: `${s3.version} (container ${describeImage(images.s3)}, ${s3.endpoint.endpoint})`,
    images: { postgres: images.postgres.name, redis: images.redis.name, s3: images.s3.name },
  };

  return {
    kind: "containers",
    runId: run.id,
    postgres: postgres.endpoint,
    redis: redis.endpoint,
    mediaDir,
    s3: s3.endpoint,
    readOnlySource: false,
    stages: {
      available: true,
      open: async () => {
        assertRunning();
        return startContainersStage({
          images: { postgres: images.postgres.name, redis: images.redis.name, s3: images.s3.name },
          run,
          client: engine.client,
          sources: new Map([[postgres.endpoint.port, postgres.containerId]]),
        });
      },
    },
    startScratchPostgres: async () => {
      assertRunning();
      return await startContainerPostgres({ image: images.postgres.name, database: "postgres", run });
    },
    startScratchRedis: async (rdbFile: string) => {
      assertRunning();
      return await startContainerRedis({ image: images.redis.name, rdbFile, run });
    },
    describe: () => description,
    containerIds: () => run.containerIds(),
    dirs: () => [mediaRoot],
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
