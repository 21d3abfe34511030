import type { Writable } from "node:stream";
import { execa, type ResultPromise } from "execa";
import { DrError, messageOf } from "../errors/index.ts";
import { findBinary } from "./binaries.ts";
import { isRoot, type OsUser } from "./os-user.ts";
import { shutdownSignal } from "../lifecycle/cleanup-registry.ts";

export interface RunOptions {
  /**
   * The child's own variables on top of the allow-listed basics (childBaseEnv): secrets
   * (PGPASSWORD, REDISCLI_AUTH) go here, never in args. Nothing else of ours is inherited.
   */
  env?: Record<string, string | undefined>;
  /** Working directory. */
  cwd?: string;
  /** Kill the process after this many milliseconds (always set: nothing runs unbounded). */
  timeoutMs?: number;
  /** Cancel the process from outside (Ctrl-C, a failed sibling step). */
  signal?: AbortSignal;
  /** Run as this OS user (only takes effect when we are root): PostgreSQL refuses root. */
  asUser?: OsUser;
  /** Data written to stdin. */
  input?: string | Uint8Array;
  /** Bytes the child reads on descriptor 3 (a socket): a secret it needs, never in argv or the environment. */
  fd3Input?: Uint8Array;
  /** Keep stdout as a stream instead of buffering it (for dumps), or a file descriptor the child writes to itself (a file, another child's stdin: childStdinFd). */
  stdout?: "pipe" | "ignore" | "inherit" | number;
  /** Append stdout and stderr to this file instead (long-running servers). */
  logFile?: string;
  /** The caller reads stdout as a stream (do not buffer it). */
  streamStdout?: boolean;
  /**
   * Run in its own process group (servers): a Ctrl-C at the terminal then reaches only
   * dr-drill, which stops the server after what still needs it (dropping a half-restored
   * database) instead of the server dying first.
   */
  detached?: boolean;
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

/** Resolve a binary name to its path (absolute paths pass through). */
function resolveFile(name: string): string {
  return name.includes("/") ? name : findBinary(name);
}

/** Variables every child may see: where programs are, home, locale, time zone, temp folder. */
const INHERITED = new Set(["PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "DR_TMPDIR", "TERM"]);

/**
 * The environment a child starts from: only the allow-listed basics of ours (plus LC_*).
 * Our own environment holds other components' secrets (DR_REDIS_URL's password,
 * AWS_SECRET_ACCESS_KEY, DR_DATABASE_URL): pg_dump must not get Redis's password, and a
 * server run as another OS user must not expose them in /proc/PID/environ.
 */
export function childBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (INHERITED.has(name) || name.startsWith("LC_"))) base[name] = value;
  }
  return base;
}

/** uid/gid/HOME for running as another user; signals reach the process directly (no runuser in between). */
function userOptions(user: OsUser | undefined): { uid?: number; gid?: number; env?: Record<string, string> } {
  if (!user || !isRoot()) return {};
  return { uid: user.uid, gid: user.gid, env: { HOME: user.home, USER: user.name, LOGNAME: user.name } };
}

/** The execa options every command gets: user, env (secrets only there), cwd, timeout, cancel, input; failures returned, not thrown. */
function commonOptions(options: RunOptions) {
  const user = userOptions(options.asUser);
  const env: Record<string, string> = { ...childBaseEnv(), ...user.env };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return {
    uid: user.uid,
    gid: user.gid,
    env,
    extendEnv: false,
    detached: options.detached ?? false,
    cwd: options.cwd,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    // A signal to dr-drill cancels every command at once (servers excepted: the cleanup
    // registry stops them in order, after what still needs them).
    cancelSignal: options.detached ? options.signal : options.signal ? AbortSignal.any([options.signal, shutdownSignal()]) : shutdownSignal(),
    input: options.input,
    reject: false,
    stripFinalNewline: true,
  } as const;
}

/**
 * The file descriptor of a child's stdin (this process's end of the pipe to it), for another
 * child to write into directly (`stdout: childStdinFd(tar.stdin)`): the bytes then go from one
 * child to the other through the kernel, never through this process. Node keeps it on the
 * stream's handle, as it does for any stream passed in a child's stdio. This process's end
 * stays open until it ends the stream: end it once the writing child exited, so the reader
 * sees the end of its input. A stream over no descriptor is refused by name.
 */
export function childStdinFd(stdin: Writable): number {
  const fd = (stdin as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new DrError("COMMAND_FAILED", "unable to connect two commands: the reader's stdin has no file descriptor");
  return fd;
}

/**
 * Start an external process: no shell, explicit timeout and cancel signal, secrets only
 * in env. The returned subprocess can be streamed (stdout) or awaited.
 */
export function startCommand(name: string, args: readonly string[], options: RunOptions = {}): ResultPromise {
  // execa passes a file descriptor number to the child as it is; its types only name 1..9.
  const stdout = options.logFile ? { file: options.logFile, append: true } : typeof options.stdout === "number" ? (options.stdout as 1) : (options.stdout ?? "pipe");
  const stderr = options.logFile ? { file: options.logFile, append: true } : ("pipe" as const);
  // execa takes a descriptor past stderr only in a whole stdio array.
  const streams = options.fd3Input ? { stdio: ["pipe", stdout, stderr, options.fd3Input] as const } : { stdout, stderr };
  return execa(resolveFile(name), [...args], {
    ...commonOptions(options),
    ...streams,
    // A streamed stdout is consumed by the caller; buffering it too would hold the whole dump.
    buffer: { stdout: !options.logFile && (options.stdout ?? "pipe") === "pipe" && !options.streamStdout, stderr: true },
  });
}

/**
 * Run a command to completion and return its output; a non-zero exit, a timeout or a
 * cancel becomes a DrError that keeps the escaped command and the tail of stderr.
 */
export async function runCommand(name: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const file = resolveFile(name);
  const result = await execa(file, [...args], commonOptions(options));
  const durationMs = performance.now() - started;
  const stdout = String(result.stdout ?? "");
  const stderr = String(result.stderr ?? "");
  if (result.failed) {
    throw commandError(describeCommand(file, args), result, stderr);
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
