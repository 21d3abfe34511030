import { accessSync, constants, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { DrError } from "../errors/index.ts";

/** The Debian package (and so the install command) that provides each binary we run. */
const PACKAGE_OF: Record<string, string> = {
  initdb: "postgresql",
  pg_ctl: "postgresql",
  postgres: "postgresql",
  pg_dump: "postgresql-client",
  pg_basebackup: "postgresql-client",
  pg_receivewal: "postgresql-client",
  pg_restore: "postgresql-client",
  psql: "postgresql-client",
  createdb: "postgresql-client",
  "redis-server": "redis-server",
  "redis-cli": "redis-tools",
  "redis-check-rdb": "redis-server",
  age: "age",
  "age-keygen": "age",
  rclone: "rclone",
  promtool: "prometheus",
  docker: "docker.io",
  dockerd: "docker.io",
  runuser: "util-linux",
};

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian keeps PostgreSQL server binaries off PATH, one folder per major version. */
function postgresBinDirs(): string[] {
  const root = "/usr/lib/postgresql";
  try {
    return readdirSync(root)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a))
      .map((major) => join(root, major, "bin"));
  } catch {
    return [];
  }
}

const POSTGRES_TOOLS = new Set(["initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore", "psql", "createdb", "pg_isready", "pg_basebackup", "pg_receivewal"]);

/**
 * Find a binary: PostgreSQL tools from the newest /usr/lib/postgresql/N/bin first (so the
 * client version is predictable, not whatever pg_wrapper picks), then PATH.
 */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [
    ...(POSTGRES_TOOLS.has(name) ? postgresBinDirs() : []),
    ...(env.PATH ?? "").split(delimiter).filter(Boolean),
  ];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  const pkg = PACKAGE_OF[name];
  throw new DrError("BINARY_MISSING", `unable to find binary '${name}': not on PATH${POSTGRES_TOOLS.has(name) ? " nor in /usr/lib/postgresql/*/bin" : ""}`, {
    hint: pkg
      ? `install it with 'apt-get install ${pkg}' (or run 'bash scripts/bootstrap.sh')`
      : "install it and make sure it is on PATH",
  });
}

/** The path of `name`, or undefined when it is not installed (for tools with an in-process fallback). */
export function findOptionalBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    return findBinary(name, env);
  } catch (error) {
    if (error instanceof DrError && error.code === "BINARY_MISSING") return undefined;
    throw error;
  }
}
