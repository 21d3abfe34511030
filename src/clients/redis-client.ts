import { Redis } from "ioredis";
import { DrError, messageOf } from "../errors/index.ts";
import type { RedisEndpoint } from "../targets/target.ts";

/** `redis://host:port` for display: never includes the password. */
export function describeRedis(endpoint: RedisEndpoint): string {
  return `redis://${endpoint.host}:${endpoint.port}`;
}

/** Parse a redis:// URL into an endpoint. */
export function parseRedisUrl(url: string): RedisEndpoint {
  const parsed = new URL(url);
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    localDataDir: undefined,
  };
}

/** redis-cli environment: the password goes in REDISCLI_AUTH, never argv. */
export function redisEnv(endpoint: RedisEndpoint): Record<string, string> {
  return endpoint.password === undefined ? {} : { REDISCLI_AUTH: endpoint.password };
}

/** Connect (no endless reconnects: one failure is an answer), or fail naming the server. */
export async function connectRedis(endpoint: RedisEndpoint, source?: string): Promise<Redis> {
  const client = new Redis({
    host: endpoint.host,
    port: endpoint.port,
    password: endpoint.password,
    lazyConnect: true,
    connectTimeout: 5_000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis reports the real cause (ECONNREFUSED, WRONGPASS) only through 'error' events.
  let lastError: unknown;
  client.on("error", (error: unknown) => {
    lastError = error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    const reason = lastError && messageOf(lastError) !== messageOf(error) ? `${messageOf(error)} (${messageOf(lastError)})` : messageOf(error);
    throw new DrError("TARGET_UNREACHABLE", `unable to connect to Redis '${describeRedis(endpoint)}': ${reason}`, {
      cause: error,
      hint: source ? `check ${source}: host, port and password` : "check the server is running and the password is right",
      exitCode: source?.startsWith("DR_") ? 2 : 1,
    });
  }
  return client;
}
