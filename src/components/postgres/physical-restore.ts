import { mkdir, readdir, writeFile, appendFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DrError, messageOf, unable } from "../../errors/index.ts";
import { listCompleteBackups, type BackupManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { mapConcurrent } from "../../util/map-concurrent.ts";
import { flushFileSystem, flushWhile } from "../local-disk.ts";
import { postgresOsUser, runCommand } from "../../exec/index.ts";
import { findGaps, listWalArchive, readTimelineHistories, walChain, type TimelineHistories, type WalArchive, type WalGap } from "../wal/wal-archive.ts";
import { fetchWalFile } from "../wal/wal-fetch.ts";
import { formatLsn, historyFileName, parseLsn, segmentFileName, segmentOfLsn, startSegmentOf } from "../wal/wal-names.ts";
import { assertBaseCompression, readBaseIntoTar } from "./base-compression.ts";
import { majorOf } from "./pg-tool-version.ts";

/** Where recovery should stop. */
export type RecoveryTarget = { kind: "time"; time: Date } | { kind: "lsn"; lsn: string } | { kind: "latest" };

/** The folder inside the restored data directory that restore_command copies WAL from. */
export const RESTORE_WAL_DIR = "dr-drill-wal";

export interface PhysicalRestoreOptions {
  storage: Storage;
  identities: readonly string[];
  /** The data directory to create; it must not exist or be empty. */
  into: string;
  target: RecoveryTarget;
  /** WAL files downloaded at once (beside the base's own stream); default 4. */
  walConcurrency?: number;
  signal?: AbortSignal;
}

/** What a physical restore left on disk. */
export interface PhysicalRestoreResult {
  backupId: string;
  dataDir: string;
  /** The WAL folder restore_command copies from (inside dataDir). */
  walDir: string;
  /** WAL files fetched (segments, a `.partial` served as its segment, `.history` files). */
  walFiles: number;
  walBytes: number;
  /** The first and last segment fetched. */
  walRange: string;
  /** The target as written to the recovery settings. */
  target: string;
  /** Lines appended to postgresql.auto.conf. */
  settings: string[];
  /** Things the restore could not rule out (recovery will tell): e.g. a gap after the WAL fetched. */
  warnings: string[];
  durationMs: number;
}

/** The archive's restorable range, for refusals. */
interface ArchiveRange {
  fromTime: Date;
  toTime: Date;
  fromLsn: bigint;
  toLsn: bigint;
}

function describeRange(range: ArchiveRange): string {
  return `the archive covers ${range.fromTime.toISOString()} .. ${range.toTime.toISOString()} (LSN ${formatLsn(range.fromLsn)} .. ${formatLsn(range.toLsn)})`;
}

function describeTarget(target: RecoveryTarget): string {
  if (target.kind === "time") return `time ${target.time.toISOString()}`;
  if (target.kind === "lsn") return `LSN ${target.lsn}`;
  return "latest";
}

/** A timestamp PostgreSQL parses unambiguously: `2026-12-02 10:15:18.123+00`. */
function postgresTime(date: Date): string {
  return `${date.toISOString().replace("T", " ").replace("Z", "")}+00`;
}

/** What the archive can restore: from the oldest base backup's consistent point to the newest WAL. */
function archiveRange(backups: readonly BackupManifest[], archive: WalArchive): ArchiveRange | undefined {
  const oldest = backups[0]?.physical;
  const newest = archive.newest;
  if (!oldest || !newest) return undefined;
  return {
    fromTime: new Date(oldest.consistentAt),
    toTime: new Date(newest.lastModified),
    fromLsn: parseLsn(oldest.stopLsn),
    toLsn: (newest.segment! + 1n) * BigInt(archive.segmentBytes),
  };
}

/** Pick the newest base backup that is consistent before the target; refuse a target outside the archive. */
function chooseBackup(backups: readonly BackupManifest[], archive: WalArchive, target: RecoveryTarget, id: string): BackupManifest {
  const range = archiveRange(backups, archive);
  if (!range) {
    throw new DrError("BACKUP_NOT_FOUND", unable("restore database", id, backups.length ? "the WAL archive is empty" : "there is no complete physical base backup"), {
      hint: "take one with 'dr-drill backup postgres --physical' while 'dr-drill wal stream' (or archive_command) archives WAL",
    });
  }
  let chosen: BackupManifest | undefined;
  if (target.kind === "time") {
    if (target.time < range.fromTime || target.time > range.toTime) {
      throw new DrError("RESTORE_REFUSED", unable("restore database", id, `target ${describeTarget(target)} is outside the archive: ${describeRange(range)}`), {
        hint: "pick a time inside that range (dr-drill wal verify shows the archive)",
        exitCode: 2,
      });
    }
    chosen = backups.findLast((b) => new Date(b.physical!.consistentAt) <= target.time);
  } else if (target.kind === "lsn") {
    const lsn = parseLsn(target.lsn);
    if (lsn < range.fromLsn || lsn > range.toLsn) {
      throw new DrError("RESTORE_REFUSED", unable("restore database", id, `target ${describeTarget(target)} is outside the archive: ${describeRange(range)}`), {
        hint: "pick an LSN inside that range (dr-drill wal verify shows the archive)",
        exitCode: 2,
      });
    }
    chosen = backups.findLast((b) => parseLsn(b.physical!.stopLsn) <= lsn);
  } else {
    chosen = backups.at(-1);
  }
  return chosen!;
}

/** One file to fetch: stored under `stored`, written as `name`. */
interface WalItem {
  name: string;
  stored: string;
}

/**
 * The WAL files a recovery from `backup` to `target` replays, or a refusal naming the gap
 * it would stop at: the segments of the timeline chain from the base's start segment (up
 * to the target's segment and one more for an LSN, to the newest otherwise), the streamer's
 * `.partial` after the last one (served as its segment), and the `.history` files.
 */
function planWal(backup: BackupManifest, archive: WalArchive, histories: TimelineHistories, target: RecoveryTarget, id: string): { items: WalItem[]; warnings: string[]; range: string } {
  const facts = backup.physical!;
  const size = facts.walSegmentBytes;
  const start = startSegmentOf(facts);
  const chain = walChain(start.timeline, start.segment, histories, size);
  const end = target.kind === "lsn" ? segmentOfLsn(parseLsn(target.lsn), size) + 1n : undefined;
  const { gaps } = findGaps(archive, chain, end);
  const warnings: string[] = [];
  const stopSegment = segmentOfLsn(parseLsn(facts.stopLsn) - 1n, size);
  const refuse = (gap: WalGap, why: string) =>
    new DrError("WAL_MISSING", unable("restore database", id, `WAL ${gap.range} is missing from the archive: ${why}`), {
      hint: "run 'dr-drill wal verify' to see every gap; restore to a point before it, or from a base backup taken after it",
    });
  let cut: { timeline: number; segment: bigint } | undefined;
  for (const gap of gaps) {
    // An LSN target's own segment must be reachable; the one after it is only a courtesy.
    if (end !== undefined && gap.first === end && gap.timeline === chain.at(-1)!.timeline) continue;
    if (gap.timeline === facts.timeline && gap.first <= stopSegment) throw refuse(gap, `base backup ${backup.id} needs it to become consistent`);
    if (target.kind === "latest") throw refuse(gap, "recovery to the latest point would silently stop before it");
    if (target.kind === "lsn") throw refuse(gap, `recovery to ${describeTarget(target)} would stop before it`);
    const before = archive.segments.get(gap.timeline)?.get(gap.first - 1n);
    if (!before || before.lastModified < target.time.getTime()) {
      throw refuse(gap, `the WAL before it was all stored before ${target.time.toISOString()}, so recovery would stop short of the target`);
    }
    warnings.push(`WAL ${gap.range} is missing: only the WAL before it was fetched (the target should be reached before it)`);
    cut = { timeline: gap.timeline, segment: gap.first };
    break;
  }
  const items: WalItem[] = [];
  let last: { timeline: number; segment: bigint } | undefined;
  outer: for (const range of chain) {
    const present = archive.segments.get(range.timeline);
    const segments = [...(present?.keys() ?? [])].filter((s) => s >= range.first && (range.last === undefined || s <= range.last) && (end === undefined || s <= end)).sort((a, b) => (a < b ? -1 : 1));
    for (const segment of segments) {
      if (cut && range.timeline === cut.timeline && segment >= cut.segment) break outer;
      const name = segmentFileName(range.timeline, segment, size);
      items.push({ name, stored: name });
      last = { timeline: range.timeline, segment };
    }
  }
  // The streamer's segment in progress, when it continues the chain: served under its segment name.
  const final = chain.at(-1)!;
  const next = last && last.timeline === final.timeline ? last.segment + 1n : final.first;
  const partial = archive.partials.get(final.timeline)?.get(next);
  if (!cut && partial && (end === undefined || next <= end)) {
    const name = segmentFileName(final.timeline, next, size);
    items.push({ name, stored: `${name}.partial` });
    last = { timeline: final.timeline, segment: next };
  }
  for (const timeline of archive.histories.keys()) {
    if (timeline <= final.timeline) items.push({ name: historyFileName(timeline), stored: historyFileName(timeline) });
  }
  const first = items[0]?.name ?? "none";
  return { items, warnings, range: last ? `${first}..${segmentFileName(last.timeline, last.segment, size)}` : "none" };
}

const CHOWN_TIMEOUT_MS = 30 * 60_000;

/** Make the target folder, refusing one that holds anything (a restore never overwrites). */
async function prepareDataDir(dir: string, id: string): Promise<void> {
  const existing = await readdir(dir).catch(() => undefined);
  if (existing && existing.length > 0) {
    throw new DrError("RESTORE_REFUSED", unable("restore database", id, `'${dir}' is not empty`), { hint: "restore into a new or empty folder", exitCode: 2 });
  }
  await mkdir(join(dir, RESTORE_WAL_DIR), { recursive: true, mode: 0o700 });
}

/**
 * Hand the restored tree to the account PostgreSQL runs as (when we are root): one
 * `chown -R`, symbolic links themselves and never what they point at (18-20 ms for the
 * 1.1 GB bench cluster's 1,400 entries, against 67-87 ms for a chown per entry from here).
 */
async function chownTree(dir: string, signal?: AbortSignal): Promise<void> {
  const user = postgresOsUser();
  if (!user) return;
  try {
    await runCommand("chown", ["-R", "--no-dereference", `${user.uid}:${user.gid}`, "--", dir], { timeoutMs: CHOWN_TIMEOUT_MS, signal });
  } catch (error) {
    throw new DrError("RESTORE_FAILED", `unable to hand the restored files in '${dir}' to the ${user.name} user: ${messageOf(error)}`, { cause: error });
  }
}

/** Download, decrypt, decompress (zstd, when the manifest says so) and untar the base backup into dir (`tar -x` reading stdin). */
async function unpackBase(options: PhysicalRestoreOptions, backup: BackupManifest, dir: string): Promise<void> {
  const outcome = await readBaseIntoTar({ storage: options.storage, manifest: backup, identities: options.identities, signal: options.signal }, ["-x", "-C", dir], "restore backup", { timeoutMs: 12 * 3_600_000, decryptInChild: true });
  if (!outcome.ok) throw outcome.error;
}

/**
 * How the restored server flushes its data directory when it starts recovery. dr-drill has
 * already flushed the file system holding it (flushFileSystem, after the last file was
 * written), so PostgreSQL's default walk that opens and fsyncs every file only re-checks
 * clean files: `syncfs` (PostgreSQL 14 and newer, Linux only) asks the kernel once per file
 * system instead. Elsewhere the default stays (the value would stop an older server or
 * another platform from starting).
 */
export function startupSyncSettings(serverVersion: string, platform: NodeJS.Platform): string[] {
  return platform === "linux" && majorOf(serverVersion) >= 14 ? ["recovery_init_sync_method = 'syncfs'"] : [];
}

/**
 * Restore a physical base backup to a point in time, leaving a self-contained data
 * directory: the base backup chosen for the target is streamed (curl or this process's
 * download -> the stock age -> zstd -d when compressed -> `tar -x`, as downloadPart checks
 * it), and at the same time the WAL recovery needs is fetched,
 * hash-checked and decrypted into `<dir>/dr-drill-wal/`. postgresql.auto.conf gets a
 * restore_command that copies from that folder (relative to the data directory), the
 * recovery target, recovery_target_action = promote and archive_mode = off (the restored
 * copy must not archive into its source's repository); recovery.signal is created. Then
 * `pg_ctl start` as the postgres user recovers and promotes with no credentials, keys or
 * dr-drill. A target outside the archive, or past a gap, is refused before anything is written.
 */
export async function restorePostgresPhysical(options: PhysicalRestoreOptions): Promise<PhysicalRestoreResult> {
  const started = performance.now();
  const dir = resolve(options.into);
  const id = `postgres to ${describeTarget(options.target)}`;
  const backups = (await listCompleteBackups(options.storage, "postgres")).filter((m) => m.physical);
  const segmentBytes = backups[0]?.physical?.walSegmentBytes;
  const archive = await listWalArchive(options.storage, segmentBytes);
  const backup = chooseBackup(backups, archive, options.target, id);
  const histories: TimelineHistories = archive.histories.size ? await readTimelineHistories(options.storage, archive, options.identities) : new Map();
  const plan = planWal(backup, archive, histories, options.target, id);
  assertBaseCompression(backup, "restore backup");
  await prepareDataDir(dir, id);
  const walDir = join(dir, RESTORE_WAL_DIR);
  let walBytes = 0;
  try {
    await flushWhile(dir, Promise.all([
      unpackBase(options, backup, dir),
      mapConcurrent(plan.items, options.walConcurrency ?? 4, async (item) => {
        const fetched = await fetchWalFile({ storage: options.storage, identities: options.identities, name: item.name, storedName: item.stored, destination: join(walDir, item.name), sync: false, signal: options.signal });
        walBytes += fetched.plainSize;
      }),
    ]), options.signal);
  } catch (error) {
    if (error instanceof DrError) throw error;
    throw new DrError("RESTORE_FAILED", unable("restore database", id, messageOf(error)), { cause: error });
  }
  const settings = [
    `# dr-drill: recovery of base backup ${backup.id} to ${describeTarget(options.target)}, WAL ${plan.range}`,
    `restore_command = 'cp ${RESTORE_WAL_DIR}/%f "%p"'`,
    ...(options.target.kind === "time" ? [`recovery_target_time = '${postgresTime(options.target.time)}'`] : []),
    ...(options.target.kind === "lsn" ? [`recovery_target_lsn = '${options.target.lsn}'`] : []),
    ...(options.target.kind === "latest" ? [] : ["recovery_target_action = 'promote'"]),
    "recovery_target_timeline = 'latest'",
    "archive_mode = 'off'",
    ...startupSyncSettings(backup.physical!.serverVersion, process.platform),
  ];
  await appendFile(join(dir, "postgresql.auto.conf"), `\n${settings.join("\n")}\n`);
  await writeFile(join(dir, "recovery.signal"), "");
  await chownTree(dir, options.signal);
  // On disk before this says "restored": a crash of this machine must not leave a half-written
  // data directory that looks complete (and PostgreSQL's start-up flush then has nothing to write).
  await flushFileSystem(dir, options.signal);
  return {
    backupId: backup.id,
    dataDir: dir,
    walDir,
    walFiles: plan.items.length,
    walBytes,
    walRange: plan.range,
    target: describeTarget(options.target),
    settings: settings.slice(1),
    warnings: plan.warnings,
    durationMs: performance.now() - started,
  };
}
