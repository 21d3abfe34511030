import { pipeline } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describePostgres, postgresEnv, queryPostgres } from "../../clients/index.ts";
import { DrError, messageOf, unable } from "../../errors/index.ts";
import { commandError, describeCommand, findBinary, runCommand, startCommand } from "../../exec/index.ts";
import { type BackupManifest, type PhysicalBackupFacts, backupFolder, makeBackupId, writeManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { gateOnCompletion } from "../../streams/exit-gate.ts";
import { type BackupContext, describeEncryption, encryptedSuffix } from "../backup-context.ts";
import { uploadPart } from "../upload-part.ts";
import { DEFAULT_SEGMENT_BYTES, describeSegmentRange, formatLsn, parseLsn, segmentBeforeLsn, segmentFileName, segmentOfLsn, walKey } from "../wal/wal-names.ts";
import { BASE_TAR_ZST, BASE_ZSTD, startBaseCompressor } from "./base-compression.ts";
import { assertToolNotOlder, parseToolVersion } from "./pg-tool-version.ts";
import { TarEntryCapture } from "./tar-entries.ts";

const BASEBACKUP_TIMEOUT_MS = 12 * 3_600_000;

export interface PhysicalBackupOptions {
  /** How long to wait for the WAL the backup needs (start..stop segment) to reach the archive; default 120 s. */
  walWaitMs?: number;
}

/** Where the backup starts and stops, read from the tar's backup_label and backup_manifest. */
export interface BackupWalRange {
  startLsn: bigint;
  stopLsn: bigint;
  timeline: number;
}

/**
 * Read the WAL range from pg_basebackup's own files: `backup_label` names the start point
 * and timeline, `backup_manifest`'s WAL-Ranges the stop point (with `-X none` and `-D -`
 * pg_basebackup prints neither).
 */
export function readBackupWalRange(label: string, manifest: string): BackupWalRange {
  const start = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/m.exec(label)?.[1];
  const timeline = /^START TIMELINE: (\d+)/m.exec(label)?.[1];
  const ranges = (JSON.parse(manifest) as { "WAL-Ranges"?: { Timeline: number; "Start-LSN": string; "End-LSN": string }[] })["WAL-Ranges"] ?? [];
  const last = ranges.at(-1);
  if (!start || !timeline || !last) throw new Error("backup_label or backup_manifest lacks the WAL start/stop point");
  return { startLsn: parseLsn(start), stopLsn: parseLsn(last["End-LSN"]), timeline: Number(timeline) };
}

/** Poll until every segment from..to of a timeline is in the WAL archive; the missing ones when time runs out. */
export async function waitForArchivedWal(storage: Storage, timeline: number, first: bigint, last: bigint, timeoutMs: number, signal?: AbortSignal, segmentBytes = DEFAULT_SEGMENT_BYTES): Promise<bigint[]> {
  const deadline = performance.now() + timeoutMs;
  const pending = new Set<bigint>();
  for (let s = first; s <= last; s += 1n) pending.add(s);
  for (;;) {
    for (const segment of [...pending]) {
      if (await storage.stat(walKey(segmentFileName(timeline, segment, segmentBytes)))) pending.delete(segment);
    }
    if (pending.size === 0 || performance.now() > deadline) return [...pending];
    signal?.throwIfAborted();
    await sleep(500);
  }
}

/**
 * A physical base backup: `pg_basebackup --format=tar --wal-method=none -D -` over the
 * replication protocol, its tar stream read for backup_label/backup_manifest, zstd-compressed
 * (level 1, the stock zstd beside this process when installed: startBaseCompressor), hashed, age-encrypted and uploaded as `postgres/<stamp>/base.tar.zst.age`
 * with nothing on disk. Compressing here rather than in the walsender (server-zstd) keeps
 * backup_manifest: pg_basebackup cannot inject it into a compressed stream on stdout. WAL is not in the tar: it comes from
 * the archive (`wal stream` or archive_command). The backup is complete only once the WAL
 * from its start to its stop segment is in the archive (pg_basebackup ends by switching
 * segments, so the stop segment is finished): it waits for that, and only then writes the
 * manifest. Without the WAL the tar is deleted and the backup fails, so it never becomes
 * "latest" while it cannot be restored.
 */
export async function backupPostgresPhysical(ctx: BackupContext, options: PhysicalBackupOptions = {}): Promise<BackupManifest> {
  const now = ctx.now ?? (() => new Date());
  const started = now();
  const id = makeBackupId("postgres", started);
  const source = describePostgres(ctx.postgres);
  const key = `${backupFolder(id)}${BASE_TAR_ZST}${encryptedSuffix(ctx.recipients)}`;
  let uploaded = false;
  try {
    const tool = findBinary("pg_basebackup");
    const toolVersion = parseToolVersion((await runCommand(tool, ["--version"], { timeoutMs: 10_000 })).stdout);
    const [server] = await queryPostgres<{ version: string; segment: string }>(ctx.postgres, "SELECT current_setting('server_version') AS version, current_setting('wal_segment_size') AS segment");
    const serverVersion = (server?.version ?? "unknown").split(" ")[0]!;
    const segmentBytes = parseSegmentSize(server?.segment ?? "16MB");
    assertToolNotOlder("pg_basebackup", toolVersion, serverVersion);

    const args = ["--format=tar", "--wal-method=none", "--checkpoint=fast", "--no-password", `--label=dr-drill ${id}`, "-D", "-"];
    const child = startCommand(tool, args, { env: postgresEnv(ctx.postgres), streamStdout: true, timeoutMs: BASEBACKUP_TIMEOUT_MS, signal: ctx.signal });
    const finished = child.then((result) => {
      if (result.failed) throw commandError(describeCommand(tool, args), result, String(result.stderr ?? ""));
    });
    const gate = gateOnCompletion(finished);
    const capture = new TarEntryCapture(["backup_label", "backup_manifest"]);
    // pipeline() destroys the capture with the first error (pg_basebackup cut off): the compressor's output then errors too.
    pipeline(child.stdout!, gate, capture, () => undefined);
    const compressor = startBaseCompressor(capture, ctx.signal);
    uploaded = true;
    const settled = await Promise.allSettled([
      uploadPart({
        storage: ctx.storage,
        key,
        source: compressor.output,
        recipients: ctx.recipients,
        signal: ctx.signal,
        metadata: { "dr-drill-id": id, "backup-time": started.toISOString(), "db-version": serverVersion },
        onProgress: (bytes) => ctx.onProgress?.("upload", bytes),
      }).catch((error: unknown) => {
        // A refused upload stops reading the tar: stop pg_basebackup and zstd too, or they block forever.
        child.kill("SIGTERM");
        compressor.stop();
        throw error;
      }),
      finished,
    ] as const);
    for (const result of settled) if (result.status === "rejected") throw result.reason;
    const part = (settled[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof uploadPart>>>).value;
    const stoppedAt = now();

    const label = capture.entries.get("backup_label");
    const walManifest = capture.entries.get("backup_manifest");
    if (!label || !walManifest) throw new Error("the tar stream holds no backup_label/backup_manifest (is pg_basebackup older than 13?)");
    const range = readBackupWalRange(label.toString("utf8"), walManifest.toString("utf8"));
    const first = segmentOfLsn(range.startLsn, segmentBytes);
    const last = segmentBeforeLsn(range.stopLsn, segmentBytes);
    const missing = await waitForArchivedWal(ctx.storage, range.timeline, first, last, options.walWaitMs ?? 120_000, ctx.signal, segmentBytes);
    if (missing.length) {
      throw new DrError("BACKUP_FAILED", unable("back up database", source, `the WAL this base backup needs (${describeSegmentRange(range.timeline, first, last, segmentBytes)}) did not reach ${ctx.storage.location}wal/ within ${Math.round((options.walWaitMs ?? 120_000) / 1000)} s; missing ${missing.map((s) => segmentFileName(range.timeline, s, segmentBytes)).join(", ")}`), {
        hint: "run 'dr-drill wal stream' beside the server, or set archive_mode = on and archive_command = 'dr-drill wal push %p'; the base backup was removed",
      });
    }
    const physical: PhysicalBackupFacts = {
      serverVersion,
      toolVersion,
      startLsn: formatLsn(range.startLsn),
      stopLsn: formatLsn(range.stopLsn),
      timeline: range.timeline,
      startWalFile: segmentFileName(range.timeline, first, segmentBytes),
      stopWalFile: segmentFileName(range.timeline, last, segmentBytes),
      walSegmentBytes: segmentBytes,
      bytes: capture.bytes,
      consistentAt: stoppedAt.toISOString(),
    };
    const manifest: BackupManifest = {
      formatVersion: 1,
      id,
      component: "postgres",
      source,
      startedAt: started.toISOString(),
      finishedAt: now().toISOString(),
      consistentAt: stoppedAt.toISOString(),
      format: "pg_basebackup tar",
      compression: BASE_ZSTD,
      parts: [part],
      storedBytes: part.size,
      encryption: describeEncryption(ctx.recipients),
      tools: { pg_basebackup: toolVersion, node: process.versions.node },
      physical,
    };
    await writeManifest(ctx.storage, manifest);
    return manifest;
  } catch (error) {
    if (uploaded) await ctx.storage.delete(key).catch(() => undefined);
    if (error instanceof DrError) throw error;
    throw new DrError("BACKUP_FAILED", unable("back up database", source, messageOf(error)), { cause: error });
  }
}

/** `16MB` (SHOW wal_segment_size) in bytes. */
export function parseSegmentSize(text: string): number {
  const match = /^(\d+)\s*(kB|MB|GB)$/.exec(text.trim());
  if (!match) return DEFAULT_SEGMENT_BYTES;
  const unit = { kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[match[2] as "kB" | "MB" | "GB"];
  return Number(match[1]) * unit;
}
