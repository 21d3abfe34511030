import { resolve } from "node:path";
import { isDrError } from "../../errors/index.ts";
import type { Storage } from "../../storage/storage.ts";
import type { PostgresEndpoint } from "../../clients/endpoints.ts";
import { fetchWalFile, WAL_FETCH_FAILED } from "../../components/wal/wal-fetch.ts";
import { pushWalFile } from "../../components/wal/wal-push.ts";
import { reportError, say, warn } from "../output.ts";

// push and fetch run once per WAL file (archive_command, restore_command): they import only
// what they use; verify and stream load the rest when they run.

/** What the WAL commands need: the repository and its keys, nothing else (no source server). */
export interface WalRepository {
  storage: Storage;
  recipients: readonly string[];
  identities: readonly string[];
}

/**
 * `dr-drill wal push <path>` (archive_command = 'dr-drill wal push %p'): exit 0 only once
 * the file is stored (or the same content already was), 1 with a message naming the
 * segment when other content is stored under its name, or on any failure.
 */
export async function walPushCommand(repository: WalRepository, path: string): Promise<number> {
  const result = await pushWalFile({ storage: repository.storage, recipients: repository.recipients, path: resolve(path) });
  say(`${result.outcome === "stored" ? "stored" : "already stored"} ${result.name} (${result.plainSize} bytes) -> ${result.key}`);
  return 0;
}

/**
 * `dr-drill wal fetch <name> <destination>` (restore_command = 'dr-drill wal fetch %f %p'):
 * exit 1 only when the file is not in the archive, 126 for every other failure (PostgreSQL
 * then aborts recovery instead of taking it for the end of WAL). Errors are reported here so
 * that even an unexpected one keeps the non-"not found" code.
 */
export async function walFetchCommand(repository: WalRepository, name: string, destination: string): Promise<number> {
  try {
    await fetchWalFile({ storage: repository.storage, identities: repository.identities, name, destination: resolve(destination) });
    return 0;
  } catch (error) {
    if (isDrError(error, "WAL_MISSING")) {
      warn(`dr-drill: ${error.message}`);
      return error.exitCode;
    }
    reportError(error);
    return WAL_FETCH_FAILED;
  }
}

/**
 * `dr-drill wal verify [--json]`: continuity from each kept physical base backup to the
 * newest segment, timelines and their .history files; every gap named. Exit 1 when anything
 * is missing or could not be checked.
 */
export async function walVerifyCommand(repository: WalRepository, options: { json?: boolean } = {}): Promise<number> {
  const { listCompleteBackups } = await import("../../manifest/index.ts");
  const { describeWalReport, verifyWalArchive } = await import("../../components/wal/wal-verify.ts");
  const backups = (await listCompleteBackups(repository.storage, "postgres")).filter((m) => m.physical);
  const report = await verifyWalArchive({ storage: repository.storage, backups, identities: repository.identities });
  if (options.json) say(JSON.stringify(report, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value), 2));
  else for (const line of describeWalReport(report)) say(`${report.ok ? "✔" : "✖"} ${line}`);
  return report.ok ? 0 : 1;
}

/**
 * `dr-drill wal stream --spool DIR [--slot NAME]`: runs until SIGINT/SIGTERM (or a fatal
 * error), then uploads what pg_receivewal wrote and exits 0.
 */
export async function walStreamCommand(repository: WalRepository, postgres: PostgresEndpoint, options: { spoolDir: string; slot?: string; intervalMs?: number }): Promise<number> {
  const { startWalStream } = await import("../../components/wal/wal-stream.ts");
  const controller = new AbortController();
  const streamer = await startWalStream({
    storage: repository.storage,
    recipients: repository.recipients,
    postgres,
    spoolDir: resolve(options.spoolDir),
    slot: options.slot,
    intervalMs: options.intervalMs,
    onUpload: (event) => {
      if (event.outcome === "stored") say(`stored ${event.name} (${event.bytes} bytes)`);
    },
  });
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await Promise.race([streamer.done, new Promise((resolved) => controller.signal.addEventListener("abort", resolved, { once: true }))]);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await streamer.stop();
  }
  await streamer.done;
  return 0;
}
