import { DrError } from "../../errors/index.ts";
import { findBinary, runCommand } from "../../exec/index.ts";
import { createScratchTracker, type Sandbox } from "../sandbox.ts";
import type { StartedPostgres, StartedRedis } from "../target.ts";
import { startNativePostgres } from "./native-postgres.ts";
import { startNativeRedis } from "./native-redis.ts";

/** `15` from `postgres (PostgreSQL) 15.18 (Debian …)`. */
async function readLocalServerVersion(): Promise<string> {
  const { stdout } = await runCommand(findBinary("postgres"), ["--version"], { timeoutMs: 10_000 });
  return /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(stdout)?.[1] ?? "unknown";
}

/**
 * A scratch server restores a dump only when its major is at least the source's: refuse
 * before starting anything, naming both versions and the ways to get a newer server.
 */
export function assertServerCanRestore(localVersion: string, major: number | undefined, sandbox: string): void {
  if (major === undefined || !Number.isFinite(major)) return;
  const local = Number.parseInt(localVersion, 10);
  if (local >= major) return;
  throw new DrError("VERSION_MISMATCH", `unable to start a scratch PostgreSQL in sandbox '${sandbox}': the backup comes from PostgreSQL ${major}, the local server is PostgreSQL ${localVersion} and cannot restore a newer major`, {
    hint: `install postgresql-${major} on this machine (apt-get install postgresql-${major}), or use containers for restores: DR_SANDBOX=containers with DR_POSTGRES_IMAGE=postgres:${major}-bookworm`,
  });
}

/**
 * Scratch servers as local processes (PostgreSQL run as the `postgres` OS user when we
 * are root, redis-server), each on 127.0.0.1 with an ephemeral port and a temporary
 * folder, stopped with the sandbox.
 */
export function startNativeSandbox(): Sandbox & { running(): (StartedPostgres | StartedRedis)[] } {
  const tracker = createScratchTracker();
  let localVersion: Promise<string> | undefined;
  const stop = async () => {
    await tracker.stopAll();
  };
  return {
    kind: "native",
    startScratchPostgres: async (options = {}): Promise<StartedPostgres> => {
      if (options.major !== undefined) assertServerCanRestore(await (localVersion ??= readLocalServerVersion()), options.major, "native");
      return tracker.track(await startNativePostgres({ label: "pg-scratch" }));
    },
    startScratchRedis: async (rdbFile) => tracker.track(await startNativeRedis({ rdbFile, label: "redis-scratch" })),
    describe: () => "native scratch servers on this machine (local PostgreSQL and redis-server)",
    running: () => tracker.running(),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
