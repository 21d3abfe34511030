import { readFileSync } from "node:fs";
import { commandError, describeCommand, findOptionalBinary, startCommand } from "../exec/index.ts";
import type { SignedRequest } from "../storage/storage.ts";

/** Bounds a download that stopped making progress; a 10 GB restore's takes minutes. */
const CURL_TIMEOUT_MS = 12 * 3_600_000;
/** Seconds curl may take to connect (the S3 client's connection timeout). */
const CONNECT_TIMEOUT_S = 5;
/** How often the bytes curl wrote are read for a progress display, ms. */
const PROGRESS_INTERVAL_MS = 500;
/** The line curl writes to stderr when it is done (--write-out): the HTTP status and the bytes received. */
const RESULT_TAG = "dr-drill-get:";

/**
 * The fixed arguments: no ~/.curlrc (-q, first), no progress meter, an HTTP error is a
 * failure with nothing written (--fail), http and https only, the request itself (URL and
 * headers, the signature among them) read from stdin as a config file, so it is in no argv.
 */
const CURL_ARGS = ["-q", "--silent", "--show-error", "--fail", "--proto", "=http,https", "--connect-timeout", String(CONNECT_TIMEOUT_S), "--config", "-", "--write-out", `%{stderr}${RESULT_TAG} %{http_code} %{size_download}\\n`];

/** The stock `curl`, or undefined when it is not installed (downloads then stay in this process). */
export function findCurl(): string | undefined {
  return findOptionalBinary("curl");
}

/** What a finished curl reported: the HTTP status and the bytes it received (and wrote). */
export interface CurlOutcome {
  status: number;
  bytes: number;
}

/** A curl GET at work; `exited` settles when it is done. */
export interface CurlGet {
  /** Resolves once curl exited 0; rejects with why not, the error carrying `bytes` (what curl received before it failed). */
  exited: Promise<CurlOutcome>;
  stop(): void;
}

/** A value in curl's config syntax: double quotes, backslash and quote escaped. */
function quoted(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** The request as a curl config file (what `--config -` reads). */
export function curlConfig(request: SignedRequest): string {
  const lines = [`url = ${quoted(request.url)}`, ...Object.entries(request.headers).map(([name, value]) => `header = ${quoted(`${name}: ${value}`)}`)];
  return `${lines.join("\n")}\n`;
}

/** The status and byte count of the --write-out line, when curl got that far. */
function outcomeOf(stderr: string): CurlOutcome | undefined {
  const line = stderr.split("\n").find((entry) => entry.startsWith(RESULT_TAG));
  const [status, bytes] = (line ?? "").slice(RESULT_TAG.length).trim().split(" ").map(Number);
  return status !== undefined && bytes !== undefined && Number.isFinite(status) && Number.isFinite(bytes) ? { status, bytes } : undefined;
}

/** Bytes a process wrote so far (Linux: /proc/PID/io), or undefined where that cannot be read. */
function bytesWritten(pid: number): number | undefined {
  try {
    const match = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Send a signed GET with the stock curl, which writes the response body into `outFd` (the
 * stock age's stdin) itself: the bytes go from the socket into the next process without
 * passing through this one. The request reaches curl on stdin, never in argv. An HTTP
 * error status writes nothing (--fail). `onProgress` gets the bytes curl wrote so far,
 * read from /proc twice a second (no progress where /proc is not there).
 */
export function startCurlGet(curl: string, request: SignedRequest, outFd: number, options: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {}): CurlGet {
  const child = startCommand(curl, CURL_ARGS, { input: curlConfig(request), stdout: outFd, timeoutMs: CURL_TIMEOUT_MS, signal: options.signal });
  const { onProgress } = options;
  const pid = child.pid;
  const timer = onProgress && pid !== undefined
    ? setInterval(() => {
        const bytes = bytesWritten(pid);
        if (bytes !== undefined) onProgress(bytes);
      }, PROGRESS_INTERVAL_MS)
    : undefined;
  const exited = child.then((result) => {
    clearInterval(timer);
    const stderr = String(result.stderr ?? "");
    const outcome = outcomeOf(stderr);
    if (!result.failed && outcome) {
      onProgress?.(outcome.bytes);
      return outcome;
    }
    const reason = stderr.split("\n").filter((line) => !line.startsWith(RESULT_TAG)).join("\n");
    // A plain Error: the caller tells what it means (a corrupt object, a lost connection).
    const error = commandError(describeCommand(curl, CURL_ARGS), result, reason);
    throw Object.assign(new Error(error.message, { cause: error }), { bytes: outcome?.bytes ?? 0 });
  });
  return {
    exited,
    stop: () => {
      clearInterval(timer);
      child.kill("SIGTERM");
    },
  };
}

/** The bytes a failed curl had received (0 when nothing reached the reader). */
export function bytesOfFailure(error: unknown): number {
  const bytes = (error as { bytes?: unknown }).bytes;
  return typeof bytes === "number" ? bytes : 0;
}
