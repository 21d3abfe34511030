import { type FSWatcher, watch } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectPostgres, postgresEnv } from "../../clients/index.ts";
import { waitUntil } from "../../lifecycle/index.ts";
import { DrError, isDrError, messageOf, unable } from "../../errors/index.ts";
import { findBinary, runCommand, startCommand } from "../../exec/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { sha256Hex } from "../../streams/hash-stream.ts";
import type { PostgresEndpoint } from "../../clients/endpoints.ts";
import { mapConcurrent } from "../../util/map-concurrent.ts";
import { parseLsn, parseWalFileName, segmentOfLsn, walKey } from "./wal-names.ts";
import { pushWalFile } from "./wal-push.ts";

export interface WalStreamOptions {
  storage: Storage;
  recipients: readonly string[];
  /** The server to stream from; its role needs REPLICATION (or superuser). */
  postgres: PostgresEndpoint;
  /**
   * Local folder pg_receivewal writes into. Kept across restarts (pg_receivewal resumes
   * from its newest file); when it is lost, the slot still holds every unconfirmed segment.
   */
  spoolDir: string;
  /** Physical replication slot name; default `dr_drill`. */
  slot?: string;
  /** How often finished segments and the segment in progress are uploaded; default 5 s. */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Each upload, for a log line. */
  onUpload?: (event: WalUploadEvent) => void;
}

/** One file the streamer stored. */
export interface WalUploadEvent {
  name: string;
  kind: "segment" | "partial" | "history";
  outcome: "stored" | "unchanged";
  bytes: number;
}

/** A running streamer. */
export interface WalStreamer extends AsyncDisposable {
  /** pg_receivewal's process id. */
  pid: number;
  /** Upload what is in the spool now (finished files, then the segment in progress). */
  flush(): Promise<void>;
  /**
   * Wait until pg_receivewal has flushed every WAL byte the server had flushed when called
   * (the slot's restart_lsn follows its flush feedback), then upload it: the LSN reached.
   * Fails when pg_receivewal exits or `timeoutMs` (default 60 s) passes first.
   * `upload: false`: return once pg_receivewal has it on disk; the loop (or stop()) uploads it.
   */
  catchUp(timeoutMs?: number, options?: { upload?: boolean }): Promise<string>;
  /** Stop pg_receivewal, upload what it wrote, stop the loop. */
  stop(): Promise<void>;
  /** Rejects when the streamer fails for good (pg_receivewal gave up, or a stored segment conflicts). */
  done: Promise<void>;
}

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
/** The spool's owner, written on its first use: the server's system identifier. */
export const SPOOL_MARKER = "dr-drill-spool.json";

/** The server's system identifier and WAL position: IDENTIFY_SYSTEM on a replication connection (the REPLICATION role pg_receivewal needs). */
async function identifySystem(postgres: PostgresEndpoint, signal: AbortSignal | undefined): Promise<{ systemId: string; position: bigint }> {
  const { stdout } = await runCommand(findBinary("psql"), ["-X", "-A", "-t", "-F", " ", "-c", "IDENTIFY_SYSTEM", "replication=true"], { env: postgresEnv(postgres), timeoutMs: 60_000, signal });
  const [systemId, , position] = stdout.trim().split(" ");
  if (!systemId || !position) throw new Error(`IDENTIFY_SYSTEM answered '${stdout.trim()}'`);
  return { systemId, position: parseLsn(position) };
}

/**
 * Refuse a spool that holds another cluster's WAL: pg_receivewal resumes from the newest
 * file in its folder, so a spool left by another server (or by this one before it was
 * restored from an older backup) makes it wait for a position the server never reaches, and
 * nothing is uploaded. The spool records the system identifier of the server it serves
 * (SPOOL_MARKER, on first use); a different one, or WAL in it past the server's current
 * position, stops the stream before it starts, naming the folder.
 */
async function claimSpool(spoolDir: string, postgres: PostgresEndpoint, slot: string, signal: AbortSignal | undefined): Promise<void> {
  const server = await identifySystem(postgres, signal);
  const markerFile = join(spoolDir, SPOOL_MARKER);
  const marker = await readFile(markerFile, "utf8").then((text) => JSON.parse(text) as { systemIdentifier?: string }, () => undefined);
  const refuse = (why: string) =>
    new DrError("CONFIG_INVALID", unable("start WAL stream", slot, `spool '${spoolDir}' ${why}`), {
      hint: "give each server its own --spool folder; move this one away once 'dr-drill wal verify' shows its WAL is in the repository",
      exitCode: 2,
    });
  if (marker?.systemIdentifier !== undefined && marker.systemIdentifier !== server.systemId) {
    throw refuse(`belongs to another cluster (system identifier ${marker.systemIdentifier}; this server's is ${server.systemId})`);
  }
  const files = (await readdir(spoolDir)).filter((name) => ["segment", "partial"].includes(parseWalFileName(name)?.kind ?? "")).sort();
  const newest = files.at(-1);
  if (newest) {
    const bytes = (await stat(join(spoolDir, newest))).size;
    const segment = parseWalFileName(newest, bytes)?.segment;
    const current = segmentOfLsn(server.position, bytes);
    if (segment !== undefined && segment > current) {
      throw refuse(`holds WAL up to ${newest}, past this server's current position (segment ${current.toString(16).toUpperCase()}): it is another cluster's, or this server was restored from an older backup`);
    }
  }
  if (!marker) await writeFile(markerFile, `${JSON.stringify({ systemIdentifier: server.systemId, claimedAt: new Date().toISOString() })}\n`, { mode: 0o600 });
}
/** Finished segments uploaded at once. */
const UPLOAD_CONCURRENCY = 3;

/**
 * Stream WAL to the repository over the replication protocol: `pg_receivewal --slot S
 * --synchronous` writes into a local spool (the slot keeps the server's WAL until
 * pg_receivewal confirmed it, so a restart resumes with no gap), and a loop uploads every
 * finished segment and `.history` file with wal push's checks (same content again is fine,
 * other content is a conflict), plus the segment in progress as `<name>.partial` whenever it
 * changed. Needs no access to the server's file system: works for remote servers and
 * containers alike. Uploaded segments are removed from the spool, except the newest, which
 * tells pg_receivewal where to resume.
 */
export async function startWalStream(options: WalStreamOptions): Promise<WalStreamer> {
  const slot = options.slot ?? "dr_drill";
  if (!SLOT_NAME.test(slot)) {
    throw new DrError("CONFIG_INVALID", unable("start WAL stream", slot, "a slot name is 1-63 lower-case letters, digits or underscores"), { exitCode: 2 });
  }
  if (options.recipients.length === 0) {
    throw new DrError("CONFIG_MISSING", unable("start WAL stream", slot, "no encryption recipient configured (WAL is stored only encrypted)"), {
      hint: "set DR_AGE_RECIPIENTS to an age public key (age-keygen -y KEYFILE)",
    });
  }
  await mkdir(options.spoolDir, { recursive: true, mode: 0o700 });
  await claimSpool(options.spoolDir, options.postgres, slot, options.signal);
  const tool = findBinary("pg_receivewal");
  const env = postgresEnv(options.postgres);
  await runCommand(tool, ["--create-slot", "--if-not-exists", "--slot", slot, "--no-password"], { env, timeoutMs: 60_000, signal: options.signal });
  const child = startCommand(tool, ["-D", options.spoolDir, "--slot", slot, "--synchronous", "--no-password", "--verbose"], {
    env,
    logFile: join(options.spoolDir, "pg_receivewal.log"),
    timeoutMs: 0,
    signal: options.signal,
  });
  let exited: string | undefined;
  const childDone = child.then((result) => {
    exited = result.exitCode !== undefined ? `exited with code ${result.exitCode}` : `killed by ${result.signal ?? "a signal"}`;
  });

  const partialHashes = new Map<string, string>();
  let running: Promise<void> | undefined;
  let fatal: unknown;
  // Serialise upload rounds: the loop and flush() never upload the same file at once.
  const flush = async () => {
    const previous = running;
    const round = (async () => {
      await previous?.catch(() => undefined);
      await uploadRound();
    })();
    running = round;
    await round;
  };

  const uploadRound = async () => {
    const names = (await readdir(options.spoolDir)).sort();
    const finished = names.filter((n) => {
      const parsed = parseWalFileName(n);
      return parsed?.kind === "segment" || parsed?.kind === "history";
    });
    const segments = finished.filter((n) => !n.endsWith(".history"));
    // A few at a time: one after another, the bucket fell 11-13 s behind a 10-15 MB/s WAL load.
    await mapConcurrent(finished, UPLOAD_CONCURRENCY, async (name) => {
      const result = await pushWalFile({ storage: options.storage, recipients: options.recipients, path: join(options.spoolDir, name), signal: options.signal });
      options.onUpload?.({ name, kind: name.endsWith(".history") ? "history" : "segment", outcome: result.outcome, bytes: result.storedSize });
      if (!name.endsWith(".history")) {
        // The finished segment replaces its in-progress copy.
        await options.storage.delete(walKey(`${name}.partial`));
        partialHashes.delete(`${name}.partial`);
        if (name !== segments.at(-1)) await rm(join(options.spoolDir, name), { force: true });
      }
    });
    for (const name of names.filter((n) => parseWalFileName(n)?.kind === "partial")) {
      let data: Buffer;
      try {
        data = await readFile(join(options.spoolDir, name));
      } catch {
        continue; // finished and renamed meanwhile: the next round uploads it as a segment
      }
      const hash = sha256Hex(data);
      if (partialHashes.get(name) === hash) continue;
      const result = await pushWalFile({ storage: options.storage, recipients: options.recipients, path: join(options.spoolDir, name), replace: true, signal: options.signal });
      partialHashes.set(name, result.plainSha256);
      options.onUpload?.({ name, kind: "partial", outcome: result.outcome, bytes: result.storedSize });
    }
  };

  let stopping = false;
  const nap = startNap(options.spoolDir, options.signal);
  const loop = (async () => {
    const interval = options.intervalMs ?? 5_000;
    while (!stopping) {
      try {
        await flush();
      } catch (error) {
        // A conflict is a fact about the repository, not a passing fault: stop on it.
        if (isDrError(error, "WAL_CONFLICT")) {
          fatal = error;
          child.kill("SIGTERM");
          break;
        }
        // Storage down: keep the files in the spool (and the server keeps them in the slot), retry.
      }
      if (exited && !stopping) {
        fatal = new DrError("COMMAND_FAILED", unable("stream WAL with slot", slot, `pg_receivewal ${exited}; see ${join(options.spoolDir, "pg_receivewal.log")}`), {
          hint: "check the server allows replication connections (pg_hba.conf 'replication' line, max_wal_senders) and the role has REPLICATION",
        });
        break;
      }
      await nap.sleep(interval);
      if (options.signal?.aborted) break;
    }
    if (fatal) throw fatal;
  })().finally(() => nap.close());
  // Observed here so a failure nobody awaits is not an unhandled rejection; callers await `done`.
  loop.catch(() => undefined);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    child.kill("SIGINT");
    await childDone;
    nap.wake();
    await loop.catch(() => undefined);
    // pg_receivewal flushed what it had on SIGINT: store it.
    await flush();
  };
  // One connection for the whole wait: it asks every 100 ms.
  const catchUp = async (timeoutMs = 60_000, catchUpOptions: { upload?: boolean } = {}): Promise<string> => {
    const client = await connectPostgres(options.postgres);
    let now: string | undefined;
    try {
      const { rows: [current] } = await client.query<{ lsn: string }>("SELECT pg_current_wal_flush_lsn()::text AS lsn");
      now = current!.lsn;
      const target = parseLsn(now);
      await waitUntil(async () => {
        if (exited) throw new Error(`pg_receivewal ${exited}`);
        const { rows: [row] } = await client.query<{ lsn: string | null }>("SELECT restart_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1", [slot]);
        return row?.lsn && parseLsn(row.lsn) >= target ? true : undefined;
      }, { timeoutMs, intervalMs: 100, signal: options.signal });
    } catch (error) {
      throw new DrError("COMMAND_FAILED", unable("catch up WAL stream with slot", slot, `the server's WAL up to ${now ?? "its current position"} was not received: ${messageOf(error)}`), {
        cause: error,
        hint: `see ${join(options.spoolDir, "pg_receivewal.log")}`,
      });
    } finally {
      await client.end().catch(() => undefined);
    }
    if (catchUpOptions.upload !== false) await flush();
    return now;
  };
  return { pid: child.pid ?? -1, flush, catchUp, stop, done: loop, [Symbol.asyncDispose]: stop };
}

/**
 * The upload loop's pause: `interval` at most, cut short when pg_receivewal finishes a
 * segment or `.history` file in the spool (it renames `<segment>.partial` to `<segment>`), so
 * a finished segment is uploaded at once instead of at the next round: a physical backup
 * waiting for its stop segment, or a site reading the archive, is not held up by the .partial
 * interval. Without inotify (fs.watch failing), the interval alone.
 */
function startNap(spoolDir: string, signal: AbortSignal | undefined): { sleep(ms: number): Promise<void>; wake(): void; close(): void } {
  let cut: AbortController | undefined;
  let pending = false;
  const wake = () => {
    if (cut) cut.abort();
    else pending = true;
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(spoolDir, (event, name) => {
      const kind = event === "rename" && name ? parseWalFileName(name)?.kind : undefined;
      if (kind === "segment" || kind === "history") wake();
    });
    watcher.on("error", () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  return {
    sleep: async (ms) => {
      if (pending) {
        pending = false;
        return;
      }
      cut = new AbortController();
      await sleep(ms, undefined, { signal: signal ? AbortSignal.any([signal, cut.signal]) : cut.signal }).catch(() => undefined);
      cut = undefined;
      pending = false;
    },
    wake,
    close: () => watcher?.close(),
  };
}

/** Drop the streamer's slot (the server then stops keeping WAL for it). */
export async function dropWalStreamSlot(postgres: PostgresEndpoint, slot = "dr_drill"): Promise<void> {
  try {
    await runCommand(findBinary("pg_receivewal"), ["--drop-slot", "--slot", slot, "--no-password"], { env: postgresEnv(postgres), timeoutMs: 60_000 });
  } catch (error) {
    throw new DrError("COMMAND_FAILED", unable("drop replication slot", slot, messageOf(error)), { cause: error });
  }
}
