// Child-process entry of the RSS benchmark: reads a BackupChildRequest (JSON) from stdin,
// runs exactly one backupPostgres() and prints a BackupChildResult (JSON) on stdout. Its own
// process, so process.resourceUsage().maxRSS is the peak of this one backup and nothing else.
import { text } from "node:stream/consumers";
import { buildConfig } from "../src/config/load-config.ts";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import type { BackupContext } from "../src/components/backup-context.ts";
import { S3Storage } from "../src/storage/index.ts";
import type { BackupChildRequest, BackupChildResult } from "./backup-child-protocol.ts";

const KIB = 1024;

/** Run the backup the request describes and measure the process around it. */
async function runBackupChild(request: BackupChildRequest): Promise<BackupChildResult> {
  const config = buildConfig(undefined, {});
  config.postgres.compressionLevel = request.compressionLevel;
  // new S3Storage(endpoint, {}) is what createStorage(endpoint) returns; options are for experiments.
  using storage = new S3Storage(request.s3, request.storage);
  const ctx: BackupContext = {
    storage,
    config,
    postgres: request.postgres,
    redis: request.redis,
    mediaDir: request.mediaDir,
    recipients: request.recipients,
  };
  const rssBeforeBytes = process.memoryUsage.rss();
  const started = performance.now();
  const manifest = await backupPostgres(ctx);
  const durationMs = performance.now() - started;
  return {
    // Node reports maxRSS in kilobytes (KiB).
    maxRssBytes: process.resourceUsage().maxRSS * KIB,
    rssBeforeBytes,
    durationMs,
    databaseBytes: manifest.postgres?.databaseBytes ?? 0,
    storedBytes: manifest.storedBytes,
  };
}

const request = JSON.parse(await text(process.stdin)) as BackupChildRequest;
const result = await runBackupChild(request);
process.stdout.write(`${JSON.stringify(result)}\n`);
