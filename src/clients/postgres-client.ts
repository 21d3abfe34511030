import pg from "pg";
import { DrError, messageOf } from "../errors/index.ts";
import type { PostgresEndpoint } from "./endpoints.ts";

/** A `postgres://user@host:port/db` string for display: never includes the password. */
export function describePostgres(endpoint: PostgresEndpoint, database = endpoint.database): string {
  return `postgres://${encodeURIComponent(endpoint.user)}@${endpoint.host}:${endpoint.port}/${encodeURIComponent(database)}`;
}

/** libpq variables of ours that tools may see: TLS and password-file settings, never a password. */
const LIBPQ_PASSTHROUGH = ["PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL", "PGPASSFILE", "PGSERVICEFILE", "PGTZ"];

/**
 * libpq environment for tools (pg_dump, pg_restore, smoke commands): the password only here.
 * Children get nothing else of ours (run-command's allow-list), so the TLS settings a user
 * exported for libpq are passed on explicitly.
 */
export function postgresEnv(endpoint: PostgresEndpoint, database = endpoint.database): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of LIBPQ_PASSTHROUGH) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, {
    PGHOST: endpoint.host,
    PGPORT: String(endpoint.port),
    PGUSER: endpoint.user,
    PGDATABASE: database,
    PGCONNECT_TIMEOUT: "10",
    PGAPPNAME: "dr-drill",
  });
  if (endpoint.password !== undefined) env.PGPASSWORD = endpoint.password;
  return env;
}

/**
 * Parse a postgres:// URL into an endpoint (the password stays in the object, not in
 * messages). A URL that does not parse, or whose user, password or database has a broken
 * %-escape, is a DrError naming `source` (the variable it came from) and never quoting the
 * URL, which may hold the password.
 */
export function parsePostgresUrl(url: string, source = "the PostgreSQL URL"): PostgresEndpoint {
  const invalid = (reason: string, cause?: unknown) =>
    new DrError("CONFIG_INVALID", `unable to parse PostgreSQL URL '${source}': ${reason}`, {
      cause,
      hint: `set ${source} to postgres://USER[:PASSWORD]@HOST:PORT/DATABASE; percent-encode special characters in the user and password (% is %25, @ is %40, : is %3A, / is %2F)`,
    });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw invalid("it is not a valid URL", error);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") throw invalid(`the scheme is '${parsed.protocol.replace(/:$/, "")}', expected postgres`);
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch (error) {
      throw invalid(`the ${what} has a malformed %-escape`, error);
    }
  };
  return {
    host: decode(parsed.hostname, "host") || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 5432,
    user: decode(parsed.username, "user name") || "postgres",
    password: parsed.password ? decode(parsed.password, "password") : undefined,
    database: decode(parsed.pathname.replace(/^\//, ""), "database name") || "postgres",
  };
}

/** Open a connection (dying quietly: see below), or fail with a message naming the server (never the password). */
export async function connectPostgres(endpoint: PostgresEndpoint, database = endpoint.database, source?: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database,
    connectionTimeoutMillis: 10_000,
    application_name: "dr-drill",
  });
  // A connection that dies while idle (the server stopped, Ctrl-C reached it first) emits
  // 'error' on the client; without a listener node turns that into a crash. The next query
  // on the client rejects with the error, which is where callers handle it.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new DrError("TARGET_UNREACHABLE", `unable to connect to PostgreSQL '${describePostgres(endpoint, database)}': ${messageOf(error)}`, {
      cause: error,
      hint: source ? `check ${source}: host, port, user, password and database name` : "check the server is running and the credentials are right",
      exitCode: source?.startsWith("DR_") ? 2 : 1,
    });
  }
  return client;
}

/** Run one query on a short-lived connection. */
export async function queryPostgres<T extends pg.QueryResultRow>(endpoint: PostgresEndpoint, sql: string, params: unknown[] = [], database?: string): Promise<T[]> {
  const client = await connectPostgres(endpoint, database);
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** `15.18` from `SHOW server_version`. */
export async function readServerVersion(endpoint: PostgresEndpoint): Promise<string> {
  const rows = await queryPostgres<{ server_version: string }>(endpoint, "SHOW server_version");
  return rows[0]?.server_version.split(" ")[0] ?? "unknown";
}
