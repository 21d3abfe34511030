import pg from "pg";
import { DrError, messageOf } from "../errors/index.ts";
import type { PostgresEndpoint } from "../targets/target.ts";

/** A `postgres://user@host:port/db` string for display: never includes the password. */
export function describePostgres(endpoint: PostgresEndpoint, database = endpoint.database): string {
  return `postgres://${encodeURIComponent(endpoint.user)}@${endpoint.host}:${endpoint.port}/${encodeURIComponent(database)}`;
}

/** libpq environment for tools (pg_dump, pg_restore, smoke commands): the password only here. */
export function postgresEnv(endpoint: PostgresEndpoint, database = endpoint.database): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: endpoint.host,
    PGPORT: String(endpoint.port),
    PGUSER: endpoint.user,
    PGDATABASE: database,
    PGCONNECT_TIMEOUT: "10",
    PGAPPNAME: "dr-drill",
  };
  if (endpoint.password !== undefined) env.PGPASSWORD = endpoint.password;
  return env;
}

/** Parse a postgres:// URL into an endpoint (the password stays in the object, not in messages). */
export function parsePostgresUrl(url: string): PostgresEndpoint {
  const parsed = new URL(url);
  return {
    host: decodeURIComponent(parsed.hostname) || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 5432,
    user: decodeURIComponent(parsed.username) || "postgres",
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database: decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres",
  };
}

/** Open a connection, or fail with a message naming the server (never the password). */
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
