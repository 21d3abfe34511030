import { join } from "node:path";
import { describeCommand, runCommand } from "../src/exec/index.ts";
import type { S3Endpoint } from "../src/targets/target.ts";

/** rclone's name for the env-configured remote (RCLONE_CONFIG_DRBENCH_*). */
const REMOTE = "drbench";
const SYNC_TIMEOUT_MS = 30 * 60_000;
/**
 * fauxqs refuses rclone's multipart completion, so every file goes as one PutObject: the
 * cutoff is far above the largest media file (the bench checks files stay below 11 MiB).
 */
const UPLOAD_CUTOFF = "64M";

/** The excludes of the reference `aws s3 sync` (and dr-drill's defaults), in rclone's filter syntax. */
export const RCLONE_EXCLUDES = ["*.pyc", "__pycache__/**", ".DS_Store"] as const;

/** What rclone's final JSON stats line reported. */
export interface RcloneStats {
  /** Files uploaded. */
  transfers: number;
  /** Files compared without upload. */
  checks: number;
  /** Bytes uploaded. */
  bytes: number;
  /** Objects deleted on the remote. */
  deletes: number;
  errors: number;
}

/**
 * The whole remote definition as environment variables, credentials included: rclone reads
 * RCLONE_CONFIG_<NAME>_* like a config file section, so nothing secret is in argv. The
 * config file path points at a file that does not exist, so a user's rclone.conf never
 * changes what is measured. AWS_CA_BUNDLE is removed: rclone's S3 backend fails to start
 * with it set ("unable to load custom CA bundle, HTTPClient's transport unsupported type"),
 * and the endpoint is plain http on 127.0.0.1 anyway.
 */
export function makeRcloneEnv(endpoint: S3Endpoint, scratchDir: string): Record<string, string | undefined> {
  if (!endpoint.endpoint || !endpoint.credentials) throw new Error("unable to configure rclone: the bench needs a local S3 endpoint with static credentials");
  const prefix = `RCLONE_CONFIG_${REMOTE.toUpperCase()}_`;
  return {
    RCLONE_CONFIG: join(scratchDir, "rclone-none.conf"),
    [`${prefix}TYPE`]: "s3",
    [`${prefix}PROVIDER`]: "Other",
    [`${prefix}ENV_AUTH`]: "false",
    [`${prefix}ENDPOINT`]: endpoint.endpoint,
    [`${prefix}REGION`]: endpoint.region,
    [`${prefix}ACCESS_KEY_ID`]: endpoint.credentials.accessKeyId,
    [`${prefix}SECRET_ACCESS_KEY`]: endpoint.credentials.secretAccessKey,
    [`${prefix}FORCE_PATH_STYLE`]: String(endpoint.forcePathStyle),
    RCLONE_S3_UPLOAD_CUTOFF: UPLOAD_CUTOFF,
    AWS_CA_BUNDLE: undefined,
  };
}

/** argv of `rclone sync DIR drbench:BUCKET/PREFIX` with the reference excludes and a final JSON stats line. */
export function makeRcloneSyncArgs(sourceDir: string, bucket: string, prefix: string): string[] {
  return [
    "sync",
    sourceDir,
    `${REMOTE}:${bucket}/${prefix}`,
    ...RCLONE_EXCLUDES.flatMap((pattern) => ["--exclude", pattern]),
    "--use-json-log",
    "--stats",
    "1h",
    "--stats-log-level",
    "NOTICE",
  ];
}

/** The escaped command line as run, secrets excluded (they are in env). */
export function describeRcloneSync(sourceDir: string, bucket: string, prefix: string): string {
  return describeCommand("rclone", makeRcloneSyncArgs(sourceDir, bucket, prefix));
}

/** Pull the last `stats` object out of rclone's JSON log on stderr. */
function parseRcloneStats(stderr: string): RcloneStats {
  const lines = stderr.split("\n").filter((line) => line.includes("\"stats\""));
  const last = lines.at(-1);
  if (!last) throw new Error(`unable to read rclone stats: no stats line in its log\n${stderr.slice(-2000)}`);
  const { stats } = JSON.parse(last) as { stats: RcloneStats };
  return { transfers: stats.transfers, checks: stats.checks, bytes: stats.bytes, deletes: stats.deletes, errors: stats.errors };
}

/** Run one `rclone sync` of a folder to a bucket prefix; a failed sync or a reported error throws. */
export async function runRcloneSync(sourceDir: string, bucket: string, prefix: string, env: Record<string, string | undefined>): Promise<RcloneStats> {
  const { stderr } = await runCommand("rclone", makeRcloneSyncArgs(sourceDir, bucket, prefix), { env, timeoutMs: SYNC_TIMEOUT_MS });
  const stats = parseRcloneStats(stderr);
  if (stats.errors > 0) throw new Error(`unable to sync '${sourceDir}' with rclone: ${stats.errors} error(s)\n${stderr.slice(-2000)}`);
  return stats;
}
