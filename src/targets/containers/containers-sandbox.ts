import type { DrConfig } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import { registerCleanup } from "../../lifecycle/index.ts";
import type { Sandbox } from "../sandbox.ts";
import { startContainerPostgres } from "./container-postgres.ts";
import { startContainerRedis } from "./container-redis.ts";
import { createContainerRun } from "./container-run.ts";
import { checkDockerEngine, checkImagesPresent, checkReaper } from "./docker-preflight.ts";

/**
 * The image for a scratch PostgreSQL that can restore a dump of `major`: DR_POSTGRES_IMAGE
 * when its tag's major is at least that, else the same repository with the major swapped
 * in (`postgres:15-bookworm` -> `postgres:16-bookworm`). Pure, for tests.
 */
export function postgresImageForMajor(configured: string, major: number | undefined): string {
  if (major === undefined) return configured;
  const match = /^(.*):(\d+)([^:/]*)$/.exec(configured);
  if (!match) return configured;
  const [, repo, tagMajor, rest] = match;
  return Number(tagMajor) >= major ? configured : `${repo}:${major}${rest}`;
}

/**
 * Scratch servers as containers of the configured images (never pulled), labelled with
 * one run id and removed with the sandbox (and on SIGINT/SIGTERM).
 */
export async function startContainersSandbox(config: DrConfig): Promise<Sandbox & { runId: string }> {
  const engine = await checkDockerEngine();
  await checkReaper(engine.client);
  const run = createContainerRun(engine.client);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unregister();
    await run.stopAll();
  };
  const unregister = registerCleanup(stop);
  const assertRunning = () => {
    if (stopped) throw new DrError("TARGET_START_FAILED", `unable to start a scratch server in sandbox 'containers' (run ${run.id}): the sandbox is stopped`);
  };
  return {
    kind: "containers",
    runId: run.id,
    startScratchPostgres: async (options = {}) => {
      assertRunning();
      const image = postgresImageForMajor(config.images.postgres, options.major);
      await checkImagesPresent(engine.client, { ...config.images, postgres: image });
      return await startContainerPostgres({ image, database: "postgres", run });
    },
    startScratchRedis: async (rdbFile) => {
      assertRunning();
      return await startContainerRedis({ image: config.images.redis, rdbFile, run });
    },
    describe: () => `containers (${config.images.postgres}, ${config.images.redis}), run ${run.id}`,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
