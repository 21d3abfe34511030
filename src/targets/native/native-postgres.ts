import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectPostgres, postgresEnv, readServerVersion } from "../../clients/index.ts";
import { DrError } from "../../errors/index.ts";
import { findBinary, postgresOsUser, runCommand, type OsUser } from "../../exec/index.ts";
import { findFreePort, makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import type { PostgresEndpoint } from "../../clients/endpoints.ts";
import type { StartedPostgres } from "../target.ts";
import { startServerProcess, type ServerProcess } from "./server-process.ts";

export interface NativePostgresOptions {
  /** Database to create besides `postgres` (the source database name). */
  database?: string;
  /** Label for the temporary folder. */
  label?: string;
  /** A persistent folder (kept across runs) instead of a temporary one. */
  stateDir?: string;
  /** initdb --data-checksums: a damaged page is then reported by PostgreSQL itself. */
  checksums?: boolean;
  /**
   * Start from a copy of a running server (pg_basebackup over the replication protocol)
   * instead of initdb: same data, same password. With `standby`, the copy is a streaming
   * replica of it (pg_basebackup -R).
   */
  copyOf?: { endpoint: PostgresEndpoint; standby?: boolean };
}

/** A native server with its data directory on this machine: failure scenarios crash, damage and restart it. */
export interface NativePostgres extends StartedPostgres {
  pid: number;
  dir: string;
  /** The data directory (owned by the server's OS user). */
  dataDir: string;
  /** The OS user the server runs as (undefined: ourselves). */
  osUser: OsUser | undefined;
  /** SIGKILL the postmaster now (the folder stays until stop()). */
  kill(): Promise<void>;
  /** Shut down cleanly (fast), keeping the data directory; start() brings it back on the same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
}

/** The server's account must be able to reach its folder (every parent needs x for it). */
async function assertReachable(dir: string, user: OsUser): Promise<void> {
  try {
    await runCommand("test", ["-w", dir, "-a", "-x", dir], { asUser: user, timeoutMs: 10_000 });
  } catch {
    throw new DrError("CONFIG_INVALID", `unable to use workspace folder '${dir}': the '${user.name}' OS user cannot reach it (PostgreSQL refuses to run as root, so it runs as '${user.name}')`, {
      hint: "set DR_STATE_DIR to a folder whose parents are world-traversable (chmod o+x), e.g. inside the project checkout",
    });
  }
}

/** Read or make the persistent password of a state folder. */
async function statePassword(file: string): Promise<{ password: string; fresh: boolean }> {
  try {
    return { password: (await readFile(file, "utf8")).trim(), fresh: false };
  } catch {
    const password = randomBytes(18).toString("base64url");
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    return { password, fresh: true };
  }
}

/** Fill a data directory with a copy of a running server (and make it its standby when asked). */
async function copyDataDir(dataDir: string, copyOf: NonNullable<NativePostgresOptions["copyOf"]>, osUser: OsUser | undefined): Promise<void> {
  const { endpoint, standby } = copyOf;
  await runCommand(findBinary("pg_basebackup"), [
    "-D", dataDir, "-h", endpoint.host, "-p", String(endpoint.port), "-U", endpoint.user,
    "--checkpoint=fast", "--wal-method=stream", "--no-sync", ...(standby ? ["--write-recovery-conf"] : []),
  ], { asUser: osUser, env: postgresEnv(endpoint), timeoutMs: 600_000 });
}

/**
 * Start a real PostgreSQL server on 127.0.0.1 and an ephemeral port, in its own temporary
 * folder, with password (SCRAM) authentication. As root, initdb and postgres run as the
 * `postgres` OS user.
 */
export async function startNativePostgres(options: NativePostgresOptions = {}): Promise<NativePostgres> {
  const osUser = postgresOsUser();
  const persistent = options.stateDir !== undefined;
  const dir = options.stateDir ?? (await makeTempDir(options.label ?? "pg", osUser));
  if (persistent) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (osUser) {
      await chown(dir, osUser.uid, osUser.gid);
      await assertReachable(dir, osUser);
    }
  }
  const dataDir = join(dir, "data");
  const pwFile = join(dir, "pwfile");
  const { password, fresh } = options.copyOf
    ? { password: options.copyOf.endpoint.password ?? "", fresh: true }
    : persistent ? await statePassword(join(dir, "..", "postgres.password")) : { password: randomBytes(18).toString("base64url"), fresh: true };
  const initialized = !fresh && existsSync(join(dataDir, "PG_VERSION"));
  if (options.copyOf) {
    try {
      await copyDataDir(dataDir, options.copyOf, osUser);
    } catch (error) {
      if (!persistent) await removeTempDir(dir);
      throw error;
    }
  } else if (!initialized) try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (osUser) await chown(pwFile, osUser.uid, osUser.gid);
    await runCommand(findBinary("initdb"), [
      "-D", dataDir, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwFile}`,
      "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions", ...(options.checksums ? ["--data-checksums"] : []),
    ], { asUser: osUser, timeoutMs: 120_000 });
  } catch (error) {
    if (!persistent) await removeTempDir(dir);
    throw error;
  } finally {
    await rm(pwFile, { force: true });
  }

  const port = await findFreePort();
  const endpoint = { host: "127.0.0.1", port, user: "postgres", password, database: "postgres" };
  // The process keeps the folder: a halted server comes back in it, and stop() removes it.
  const launch = () => startServerProcess({
    name: "postgres",
    file: findBinary("postgres"),
    args: [
      "-D", dataDir, "-p", String(port), "-k", dir,
      "-c", "listen_addresses=127.0.0.1",
      "-c", "max_wal_size=2GB",
      "-c", "logging_collector=off",
    ],
    dir,
    keepDir: true,
    asUser: osUser,
    stopSignal: "SIGINT",
    probe: async () => {
      const client = await connectPostgres(endpoint, "postgres");
      await client.end();
      return true;
    },
  });
  let server: ServerProcess;
  try {
    server = await launch();
  } catch (error) {
    if (!persistent) await removeTempDir(dir);
    throw error;
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await server.stop();
    } finally {
      if (!persistent) await removeTempDir(dir);
    }
  };

  try {
    if (options.database && options.database !== "postgres") {
      const client = await connectPostgres(endpoint, "postgres");
      try {
        const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [options.database]);
        if (!rowCount) await client.query(`CREATE DATABASE "${options.database.replaceAll('"', '""')}"`);
      } finally {
        await client.end();
      }
      endpoint.database = options.database;
    }
    const version = await readServerVersion(endpoint);
    const handle: NativePostgres = {
      endpoint,
      version,
      pid: server.pid,
      dir,
      dataDir,
      osUser,
      stop,
      kill: () => server.kill(),
      halt: () => server.stop(),
      start: async () => {
        server = await launch();
        handle.pid = server.pid;
      },
      [Symbol.asyncDispose]: stop,
    };
    return handle;
  } catch (error) {
    await stop();
    throw error;
  }
}
