import { Redis } from "ioredis";
import { DrError, messageOf } from "../errors/index.ts";
import type { RedisEndpoint } from "./endpoints.ts";

/** How long one Redis command may go unanswered (a server that accepts and never answers). */
export const REDIS_COMMAND_TIMEOUT_MS = 30_000;

/** `redis://[user@]host:port` for display: never includes the password. */
export function describeRedis(endpoint: RedisEndpoint): string {
  const user = endpoint.username ? `${encodeURIComponent(endpoint.username)}@` : "";
  return `redis://${user}${endpoint.host}:${endpoint.port}`;
}

/**
 * Parse a redis:// URL into an endpoint, user name (Redis 6 ACL) included. A URL that does
 * not parse, or whose user or password has a broken %-escape, is a DrError naming `source`
 * (the variable it came from) and never quoting the URL, which holds the password.
 */
export function parseRedisUrl(url: string, source = "the Redis URL"): RedisEndpoint {
  const invalid = (reason: string, cause?: unknown) =>
    new DrError("CONFIG_INVALID", `unable to parse Redis URL '${source}': ${reason}`, {
      cause,
      hint: `set ${source} to redis://[USER:PASSWORD@]HOST:PORT[/DB]; percent-encode special characters in the user and password (% is %25, @ is %40, : is %3A)`,
    });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw invalid("it is not a valid URL", error);
  }
  if (parsed.protocol !== "redis:") throw invalid(`the scheme is '${parsed.protocol.replace(/:$/, "")}', expected redis`);
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch (error) {
      throw invalid(`the ${what} has a malformed %-escape`, error);
    }
  };
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decode(parsed.username, "user name") : undefined,
    password: parsed.password ? decode(parsed.password, "password") : undefined,
    localDataDir: undefined,
  };
}

/** redis-cli environment: the password goes in REDISCLI_AUTH, never argv. */
export function redisEnv(endpoint: RedisEndpoint): Record<string, string> {
  return endpoint.password === undefined ? {} : { REDISCLI_AUTH: endpoint.password };
}

/** redis-cli connection arguments: host, port and the ACL user (a name, not a secret); the password stays in redisEnv. */
export function redisCliArgs(endpoint: RedisEndpoint): string[] {
  return ["-h", endpoint.host, "-p", String(endpoint.port), ...(endpoint.username ? ["--user", endpoint.username] : []), "--no-auth-warning"];
}

export interface ConnectRedisOptions {
  /** Fail a command unanswered for this long, ms (default REDIS_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs?: number;
}

/**
 * Connect (no endless reconnects: one failure is an answer), or fail naming the server.
 * Every command, the connection's own AUTH and ready check included, is bounded by
 * commandTimeoutMs: a server that accepts the connection and never answers fails in
 * seconds instead of hanging the backup (and its cron lock) forever.
 */
export async function connectRedis(endpoint: RedisEndpoint, source?: string, options: ConnectRedisOptions = {}): Promise<Redis> {
  const commandTimeoutMs = options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS;
  const client = new Redis({
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    lazyConnect: true,
    connectTimeout: 5_000,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis reports the real cause (ECONNREFUSED, WRONGPASS) only through 'error' events.
  let lastError: unknown;
  client.on("error", (error: unknown) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    // The handshake (AUTH, ready check) is a few commands: bound it as a whole as well.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(commandTimeoutMs / 1000)} s (the server accepted the connection but does not reply)`)), commandTimeoutMs + 5_000);
    });
    await Promise.race([(async () => {
      await client.connect();
      await client.ping();
    })(), deadline]);
  } catch (error) {
    client.disconnect();
    const reason = lastError && messageOf(lastError) !== messageOf(error) ? `${messageOf(error)} (${messageOf(lastError)})` : messageOf(error);
    throw new DrError("TARGET_UNREACHABLE", `unable to connect to Redis '${describeRedis(endpoint)}': ${explainTimeout(reason, commandTimeoutMs)}`, {
      cause: error,
      hint: source ? `check ${source}: host, port, user and password` : "check the server is running and the user and password are right",
      exitCode: source?.startsWith("DR_") ? 2 : 1,
    });
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** ioredis says "Command timed out": say which bound it hit and what it means. */
export function explainTimeout(reason: string, commandTimeoutMs: number): string {
  return /Command timed out/i.test(reason) ? `no answer within ${Math.round(commandTimeoutMs / 1000)} s (the server accepted the connection but does not reply)` : reason;
}
