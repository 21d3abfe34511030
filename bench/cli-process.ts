import { fileURLToPath } from "node:url";
import type { Readable } from "node:stream";
import { commandError, describeCommand, startCommand } from "../src/exec/index.ts";
import type { PostgresEndpoint } from "../src/clients/endpoints.ts";
import type { S3Endpoint } from "../src/storage/s3-endpoint.ts";
import { parsePeakRss } from "./peak-rss-line.ts";

/** The repository root: dr-drill runs from there, as `node bin/dr-drill.js` does for a user. */
export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
/** The command users run. */
export const CLI_BIN = "bin/dr-drill.js";
/** Prints the CLI's peak RSS at its exit (runCli with `peakRss`). */
const PEAK_RSS_PRELOAD = fileURLToPath(new URL("./peak-rss-preload.ts", import.meta.url));

/** One line a dr-drill process printed, with when it arrived (ms after the spawn). */
export interface TimedLine {
  atMs: number;
  stream: "stdout" | "stderr";
  text: string;
}

/** A finished dr-drill process: its lines in arrival order and when it exited (ms after the spawn). */
export interface CliRun {
  lines: TimedLine[];
  exitMs: number;
  /** The process's own peak RSS, bytes, when it ran with `peakRss` (peak-rss-preload.ts). */
  peakRssBytes?: number;
}

/** Where the CLI's repository is and which keys it uses: what a user puts in DR_* variables. */
export interface CliRepository {
  s3: S3Endpoint;
  bucket: string;
  /** age identity file (0600); its recipient encrypts, its identity decrypts. */
  identityFile: string;
  /** DR_STATE_DIR of the CLI (a scratch folder). */
  stateDir: string;
}

/** `postgres://user:password@host:port/db`: the password percent-encoded, as DR_DATABASE_URL wants it. */
export function makeDatabaseUrl(endpoint: PostgresEndpoint): string {
  const auth = `${encodeURIComponent(endpoint.user)}${endpoint.password ? `:${encodeURIComponent(endpoint.password)}` : ""}`;
  return `postgres://${auth}@${endpoint.host}:${endpoint.port}/${encodeURIComponent(endpoint.database)}`;
}

/**
 * The environment of a dr-drill process on the external target: bucket, endpoint and keys in
 * DR_* variables, S3 credentials in AWS_* variables (the SDK's chain), the source database in
 * DR_DATABASE_URL when given. Every secret is in the environment, none in argv.
 */
export function makeCliEnv(repo: CliRepository, source?: PostgresEndpoint): Record<string, string | undefined> {
  if (!repo.s3.endpoint || !repo.s3.credentials) throw new Error("unable to configure dr-drill for the bench: the S3 endpoint needs a URL and static credentials");
  return {
    DR_TARGET: "external",
    DR_S3_BUCKET: repo.bucket,
    DR_S3_ENDPOINT: repo.s3.endpoint,
    DR_S3_REGION: repo.s3.region,
    DR_AGE_IDENTITY_FILE: repo.identityFile,
    DR_STATE_DIR: repo.stateDir,
    AWS_ACCESS_KEY_ID: repo.s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: repo.s3.credentials.secretAccessKey,
    // A user's ~/.aws files must not change what is measured.
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    ...(source ? { DR_DATABASE_URL: makeDatabaseUrl(source) } : {}),
  };
}

/** Split a stream into lines, each stamped with its arrival time. */
function collectLines(stream: Readable | null, name: TimedLine["stream"], started: number, into: TimedLine[]): void {
  if (!stream) return;
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const atMs = performance.now() - started;
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const text of parts) into.push({ atMs, stream: name, text });
  });
  stream.on("end", () => {
    if (rest) into.push({ atMs: performance.now() - started, stream: name, text: rest });
  });
}

/** `node bin/dr-drill.js ARGS` as a whole process from the repository root; a non-zero exit throws with its stderr. */
export async function runCli(args: readonly string[], env: Record<string, string | undefined>, options: { timeoutMs: number; nodeArgs?: readonly string[]; peakRss?: boolean }): Promise<CliRun> {
  const argv = [...(options.nodeArgs ?? []), ...(options.peakRss ? ["--import", PEAK_RSS_PRELOAD] : []), CLI_BIN, ...args];
  const started = performance.now();
  const child = startCommand(process.execPath, argv, { env, cwd: REPO_ROOT, timeoutMs: options.timeoutMs });
  const lines: TimedLine[] = [];
  collectLines(child.stdout, "stdout", started, lines);
  collectLines(child.stderr, "stderr", started, lines);
  const result = await child;
  const exitMs = performance.now() - started;
  if (result.failed) throw commandError(describeCommand(process.execPath, argv), result, String(result.stderr ?? ""));
  return { lines, exitMs, peakRssBytes: options.peakRss ? parsePeakRss(lines.filter((l) => l.stream === "stderr").map((l) => l.text)) : undefined };
}

/** The command line as the report shows it (`node bin/dr-drill.js ...`). */
export function describeCli(args: readonly string[]): string {
  return describeCommand("node", [CLI_BIN, ...args]);
}
