import { randomBytes } from "node:crypto";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectRedis } from "../../clients/index.ts";
import { findBinary, runCommand } from "../../exec/index.ts";
import { findFreePort, makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import type { StartedRedis } from "../target.ts";
import { startServerProcess } from "./server-process.ts";

export interface NativeRedisOptions {
  /** An RDB file to load at start (scratch restores). */
  rdbFile?: string;
  label?: string;
  /** A persistent folder (kept across runs; data saved on stop) instead of a temporary one. */
  stateDir?: string;
  /**
   * Come back as a server that was killed: this folder (kept on stop, its owner removes it),
   * this port and this password, so its clients reconnect unchanged.
   */
  restartOf?: { dir: string; port: number; password: string | undefined };
  /** Allow DEBUG from localhost (DEBUG DIGEST compares whole datasets). */
  debugCommand?: boolean;
}

/** A native Redis: failure scenarios SIGKILL it. */
export interface NativeRedis extends StartedRedis {
  pid: number;
  dir: string;
  /** SIGKILL it now (the folder stays until stop()). */
  kill(): Promise<void>;
}

/**
 * Start a real redis-server on 127.0.0.1 and an ephemeral port, in its own temporary
 * folder. The password lives in a 0600 config file, not argv (argv is world-readable in ps).
 */
export async function startNativeRedis(options: NativeRedisOptions = {}): Promise<NativeRedis> {
  const persistent = options.stateDir !== undefined || options.restartOf !== undefined;
  const dir = options.restartOf?.dir ?? options.stateDir ?? (await makeTempDir(options.label ?? "redis"));
  if (options.stateDir) await mkdir(dir, { recursive: true, mode: 0o700 });
  const password = options.restartOf ? options.restartOf.password : randomBytes(18).toString("base64url");
  const port = options.restartOf?.port ?? (await findFreePort());
  try {
    if (options.rdbFile) await copyFile(options.rdbFile, join(dir, "dump.rdb"));
    const conf = [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      "dbfilename dump.rdb",
      // No automatic snapshots: backups trigger BGSAVE themselves, and a scratch server
      // must not rewrite the file it was restored from. A persistent workspace saves on stop.
      persistent ? "save 3600 1" : 'save ""',
      "appendonly no",
      "daemonize no",
      ...(password ? [`requirepass ${password}`] : []),
      ...(options.debugCommand ? ["enable-debug-command local"] : []),
    ].join("\n");
    await writeFile(join(dir, "redis.conf"), `${conf}\n`, { mode: 0o600 });
  } catch (error) {
    if (!persistent) await removeTempDir(dir);
    throw error;
  }
  const endpoint = { host: "127.0.0.1", port, password, localDataDir: dir };
  const server = await startServerProcess({
    name: "redis",
    file: findBinary("redis-server"),
    args: [join(dir, "redis.conf")],
    dir,
    keepDir: persistent,
    probe: async () => {
      const client = await connectRedis(endpoint);
      // While an RDB loads, commands answer LOADING; wait for it to finish.
      const loading = /loading:1/.test(await client.info("persistence"));
      client.disconnect();
      return !loading;
    },
  });
  let version = "unknown";
  try {
    const { stdout } = await runCommand(findBinary("redis-server"), ["--version"], { timeoutMs: 10_000 });
    version = /v=(\S+)/.exec(stdout)?.[1] ?? version;
  } catch {
    // Version is informational only.
  }
  return { endpoint, version, pid: server.pid, dir, stop: server.stop, kill: server.kill, [Symbol.asyncDispose]: server.stop };
}
