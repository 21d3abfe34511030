import { chown, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ResultPromise } from "execa";
import { DrError, messageOf } from "../../errors/index.ts";
import { startCommand, type OsUser } from "../../exec/index.ts";
import { isShuttingDown, registerCleanup, removeTempDir, waitUntil } from "../../lifecycle/index.ts";

/** A server we run as a child process in its own temporary folder. */
export interface ServerProcess {
  /** What it is, for messages: `postgres`, `redis`, `s3`. */
  name: string;
  pid: number;
  /** Its temporary folder, removed on stop. */
  dir: string;
  /** Where its stdout/stderr go. */
  logFile: string;
  /** Stop it (signal, then SIGKILL after a grace period) and remove its folder. Idempotent. */
  stop(): Promise<void>;
  /** Kill it with SIGKILL now (a crash, for failure scenarios), keeping its folder until stop(). */
  kill(): Promise<void>;
}

export interface StartServerOptions {
  name: string;
  file: string;
  args: readonly string[];
  /** Folder it owns; removed on stop unless keepDir. */
  dir: string;
  /** Keep the folder on stop (a persistent workspace). */
  keepDir?: boolean;
  asUser?: OsUser;
  env?: Record<string, string | undefined>;
  /** The signal that shuts it down cleanly (PostgreSQL: SIGINT = fast shutdown). */
  stopSignal?: NodeJS.Signals;
  /** Resolves once the server answers; polled until readyTimeoutMs. */
  probe: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Probe at this steady pace (ms) instead of 25 ms growing to 250 ms (a timed start). */
  probeIntervalMs?: number;
}

/** Last lines of a log file, for error messages. */
export async function readLogTail(path: string, lines = 12): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Wait for a child to exit, up to ms; true when it did. */
async function waitForExit(child: ResultPromise, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const exited = child.then(() => true as const, () => true as const);
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  return result;
}

/**
 * Start a server as a child process in its own process group (Ctrl-C reaches dr-drill, which
 * stops it in order), wait until it answers, and register its cleanup so a signal or a
 * crash still stops it. A server that exits or never answers is stopped, its
 * folder removed, and the error carries the tail of its log.
 */
export async function startServerProcess(options: StartServerOptions): Promise<ServerProcess> {
  if (isShuttingDown()) {
    if (!options.keepDir) await removeTempDir(options.dir);
    throw new DrError("TARGET_START_FAILED", `unable to start ${options.name} server: dr-drill is shutting down (a signal was received)`);
  }
  const logFile = join(options.dir, `${options.name}.log`);
  // A persistent folder keeps its log across runs: start each run with an empty one, so
  // readiness checks read this run's lines only.
  await writeFile(logFile, "");
  if (options.asUser && process.getuid?.() === 0) await chown(logFile, options.asUser.uid, options.asUser.gid);
  const child = startCommand(options.file, options.args, {
    asUser: options.asUser,
    env: options.env,
    logFile,
    timeoutMs: 0,
    detached: true,
  });
  let exitInfo: string | undefined;
  void child.then((result) => {
    exitInfo = result.exitCode !== undefined ? `exited with code ${result.exitCode}` : `killed by ${result.signal ?? "signal"}`;
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unregister();
    if (exitInfo === undefined) {
      child.kill(options.stopSignal ?? "SIGTERM");
      if (!(await waitForExit(child, 15_000))) {
        child.kill("SIGKILL");
        await waitForExit(child, 5_000);
      }
    }
    if (!options.keepDir) await removeTempDir(options.dir);
  };
  // Detached servers are not killed with us by the terminal or execa: if the process exits
  // before stop() ran (a crash), kill the server synchronously on the way out.
  const unregister = registerCleanup(stop, () => {
    if (exitInfo === undefined) child.kill("SIGKILL");
  });

  try {
    await waitUntil(async () => ((await options.probe()) ? true : undefined), {
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      ...(options.probeIntervalMs ? { intervalMs: options.probeIntervalMs, maxIntervalMs: options.probeIntervalMs } : {}),
      abortIf: () => exitInfo,
    });
  } catch (error) {
    const log = await readLogTail(logFile);
    await stop();
    throw new DrError("TARGET_START_FAILED", `unable to start ${options.name} server: ${messageOf(error)}${log ? `\n${log}` : ""}`, {
      cause: error,
      hint: `see the ${options.name} log above; check the binary '${options.file}' runs by hand`,
    });
  }
  const kill = async () => {
    if (exitInfo !== undefined) return;
    child.kill("SIGKILL");
    await waitForExit(child, 5_000);
  };
  return { name: options.name, pid: child.pid ?? -1, dir: options.dir, logFile, stop, kill };
}
