import { randomBytes } from "node:crypto";
import { RedisContainer } from "@testcontainers/redis";
import { PullPolicy } from "testcontainers";
import { connectRedis } from "../../clients/index.ts";
import { parseInfo } from "../../clients/redis-info.ts";
import type { RedisEndpoint, StartedRedis } from "../target.ts";
import type { ContainerRun } from "./container-run.ts";

/** A Redis server in a container of a run. */
export interface ContainerRedis extends StartedRedis {
  containerId: string;
}

export interface ContainerRedisOptions {
  image: string;
  /** An RDB file on this machine to load at start (scratch restores). */
  rdbFile?: string;
  run: ContainerRun;
}

/** Where the configuration goes in the container (outside /data, which holds dump.rdb). */
export const REDIS_CONFIG_PATH = "/usr/local/etc/redis/dr-drill.conf";

/**
 * The server's configuration. Every setting the official image and the offline one might
 * default differently is spelled out: dump.rdb in /data is what a scratch server loads.
 */
export function renderRedisConfig(password: string, options: { debugCommand?: boolean } = {}): string {
  return [
    "bind 0.0.0.0",
    "protected-mode no",
    "port 6379",
    "dir /data",
    "dbfilename dump.rdb",
    // No automatic snapshots: backups use `redis-cli --rdb`, and a scratch server must not
    // rewrite the file it was restored from.
    'save ""',
    "appendonly no",
    // `redis-cli --rdb` is a replica sync: without this the server waits 5 s for more replicas.
    "repl-diskless-sync-delay 0",
    `requirepass ${password}`,
    // DEBUG DIGEST for the failure scenarios' stage (clients come through the port mapping, not localhost).
    ...(options.debugCommand ? ["enable-debug-command yes"] : []),
    "",
  ].join("\n");
}

/**
 * Start Redis from `image` on an ephemeral host port. The password is in a config file
 * copied into the container, never on a command line (RedisContainer.withPassword would
 * put `--requirepass` in the container's argv, which `ps` on the host and `docker inspect`
 * show). With `rdbFile`, the file is copied to /data/dump.rdb before start, and the
 * container only counts as started once Redis logged "Ready to accept connections",
 * which comes after the RDB has loaded.
 */
export async function startContainerRedis(options: ContainerRedisOptions): Promise<ContainerRedis> {
  const password = randomBytes(18).toString("base64url");
  let definition = new RedisContainer(options.image)
    .withCopyContentToContainer([{ content: renderRedisConfig(password), target: REDIS_CONFIG_PATH, mode: 0o644 }])
    .withCommand(["redis-server", REDIS_CONFIG_PATH])
    .withLabels(options.run.labels)
    .withPullPolicy(PullPolicy.neverPull());
  if (options.rdbFile) {
    definition = definition.withCopyFilesToContainer([{ source: options.rdbFile, target: "/data/dump.rdb", mode: 0o644 }]);
  }
  const container = await definition.start();
  options.run.add(container);
  const endpoint: RedisEndpoint = { host: container.getHost(), port: container.getPort(), password, localDataDir: undefined };
  let version: string;
  try {
    const client = await connectRedis(endpoint);
    try {
      version = parseInfo(await client.info("server")).get("redis_version") ?? "unknown";
    } finally {
      client.disconnect();
    }
  } catch (error) {
    await options.run.stop(container);
    throw error;
  }
  const stop = () => options.run.stop(container);
  return { endpoint, version, containerId: container.getId(), stop, [Symbol.asyncDispose]: stop };
}
