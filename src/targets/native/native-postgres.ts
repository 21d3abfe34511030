import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectPostgres, readServerVersion } from "../../clients/index.ts";
import { DrError } from "../../errors/index.ts";
import { findBinary, isRoot, lookupUser, runCommand, type OsUser } from "../../exec/index.ts";
import { findFreePort, makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import type { StartedPostgres } from "../target.ts";
import { startServerProcess } from "./server-process.ts";

export interface NativePostgresOptions {
  /** Database to create besides `postgres` (the source database name). */
  database?: string;
  /** Label for the temporary folder. */
  label?: string;
  /** A persistent folder (kept across runs) instead of a temporary one. */
  stateDir?: string;
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

/** The account PostgreSQL runs as: ourselves, or `postgres` when we are root (it refuses root). */
export function postgresOsUser(): OsUser | undefined {
  return isRoot() ? lookupUser("postgres") : undefined;
}

/**
 * Start a real PostgreSQL server on 127.0.0.1 and an ephemeral port, in its own temporary
 * folder, with password (SCRAM) authentication. As root, initdb and postgres run as the
 * `postgres` OS user.
 */
export async function startNativePostgres(options: NativePostgresOptions = {}): Promise<StartedPostgres> {
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
  const { password, fresh } = persistent ? await statePassword(join(dir, "..", "postgres.password")) : { password: randomBytes(18).toString("base64url"), fresh: true };
  const initialized = !fresh && existsSync(join(dataDir, "PG_VERSION"));
  if (!initialized) try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (osUser) await chown(pwFile, osUser.uid, osUser.gid);
    await runCommand(findBinary("initdb"), [
      "-D", dataDir, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwFile}`,
      "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ], { asUser: osUser, timeoutMs: 120_000 });
  } catch (error) {
    if (!persistent) await removeTempDir(dir);
    throw error;
  } finally {
    await rm(pwFile, { force: true });
  }

  const port = await findFreePort();
  const endpoint = { host: "127.0.0.1", port, user: "postgres", password, database: "postgres" };
  const server = await startServerProcess({
    name: "postgres",
    file: findBinary("postgres"),
    args: [
      "-D", dataDir, "-p", String(port), "-k", dir,
      "-c", "listen_addresses=127.0.0.1",
      "-c", "max_wal_size=2GB",
      "-c", "logging_collector=off",
    ],
    dir,
    keepDir: persistent,
    asUser: osUser,
    stopSignal: "SIGINT",
    probe: async () => {
      const client = await connectPostgres(endpoint, "postgres");
      await client.end();
      return true;
    },
  });

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
    return {
      endpoint,
      version,
      pid: server.pid,
      dir,
      stop: server.stop,
      [Symbol.asyncDispose]: server.stop,
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
