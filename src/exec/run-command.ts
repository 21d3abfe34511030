import { execa, type ResultPromise } from "execa";
import { DrError, messageOf } from "../errors/index.ts";
import { findBinary } from "./binaries.ts";

export interface RunOptions {
  /** Extra environment; secrets (PGPASSWORD, REDISCLI_AUTH) go here, never in args. */
  env?: Record<string, string | undefined>;
  /** Working directory. */
  cwd?: string;
  /** Kill the process after this many milliseconds (always set: nothing runs unbounded). */
  timeoutMs?: number;
  /** Cancel the process from outside (Ctrl-C, a failed sibling step). */
  signal?: AbortSignal;
  /** Run as this OS user via runuser (only when we are root). */
  asUser?: string;
  /** Data written to stdin. */
  input?: string | Uint8Array;
  /** Keep stdout as a stream instead of buffering it (for dumps). */
  stdout?: "pipe" | "ignore" | "inherit";
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** Escape a command for error messages (not for running: we never use a shell). */
export function describeCommand(file: string, args: readonly string[]): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  return [file, ...args].map(quote).join(" ");
}

/** Tail of stderr: enough to diagnose, never the whole flood. */
function tail(text: string, maxLines = 15): string {
  const lines = text.trim().split("\n");
  return lines.slice(-maxLines).join("\n");
}

/** Resolve name to path and wrap in `runuser -u USER --` when asked to and we are root. */
export function resolveInvocation(name: string, args: readonly string[], options: RunOptions): [string, string[]] {
  const file = name.includes("/") ? name : findBinary(name);
  if (options.asUser && process.getuid?.() === 0) {
    return [findBinary("runuser"), ["-u", options.asUser, "--", file, ...args]];
  }
  return [file, [...args]];
}

/**
 * Start an external process: no shell, explicit timeout and cancel signal, secrets only
 * in env. The returned subprocess can be streamed (stdout) or awaited.
 */
export function startCommand(name: string, args: readonly string[], options: RunOptions = {}): ResultPromise {
  const [file, argv] = resolveInvocation(name, args, options);
  return execa(file, argv, {
    env: options.env,
    extendEnv: true,
    cwd: options.cwd,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    cancelSignal: options.signal,
    input: options.input,
    stdout: options.stdout ?? "pipe",
    stderr: "pipe",
    reject: false,
    stripFinalNewline: true,
    buffer: { stdout: options.stdout === undefined || options.stdout === "pipe", stderr: true },
  });
}

/**
 * Run a command to completion and return its output; a non-zero exit, a timeout or a
 * cancel becomes a DrError that keeps the escaped command and the tail of stderr.
 */
export async function runCommand(name: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const [file, argv] = resolveInvocation(name, args, options);
  const result = await execa(file, argv, {
    env: options.env,
    extendEnv: true,
    cwd: options.cwd,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    cancelSignal: options.signal,
    input: options.input,
    reject: false,
    stripFinalNewline: true,
  });
  const durationMs = performance.now() - started;
  const stdout = String(result.stdout ?? "");
  const stderr = String(result.stderr ?? "");
  if (result.failed) {
    throw commandError(describeCommand(file, argv), result, stderr);
  }
  return { stdout, stderr, exitCode: result.exitCode ?? 0, durationMs };
}

/** Build the DrError for a failed execa result. */
export function commandError(
  command: string,
  result: { timedOut?: boolean; isCanceled?: boolean; exitCode?: number; signal?: string; cause?: unknown; code?: string },
  stderr: string,
): DrError {
  let reason: string;
  if (result.timedOut) reason = "timed out";
  else if (result.isCanceled) reason = "cancelled";
  else if (result.exitCode !== undefined) reason = `exited with code ${result.exitCode}`;
  else if (result.signal) reason = `killed by ${result.signal}`;
  else reason = messageOf(result.cause ?? "failed to start");
  const detail = tail(stderr);
  return new DrError("COMMAND_FAILED", `unable to run '${command}': ${reason}${detail ? `\n${detail}` : ""}`, {
    cause: result.cause,
  });
}
