import { messageOf } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { findGaps, listWalArchive, missingHistories, readTimelineHistories, walChain, type TimelineHistories, type WalArchive, type WalGap } from "./wal-archive.ts";
import { DEFAULT_SEGMENT_BYTES, parseWalFileName } from "./wal-names.ts";

/** Whether one base backup can be restored from the archive. */
export interface BaseBackupWal {
  backupId: string;
  timeline: number;
  startWalFile: string;
  stopWalFile: string;
  /** complete: every segment from its start to its stop is stored; missingWal: some are not (the backup cannot be restored). */
  status: "complete" | "missingWal";
  /** Missing segments between its start and stop. */
  missing: WalGap[];
}

/** What `wal verify` found. */
export interface WalVerifyReport {
  /** Files in `wal/` (segments, partials, history and backup files). */
  files: number;
  segments: number;
  /** Timelines with WAL in the archive. */
  timelines: number[];
  /** The newest segment or partial and when it was stored. */
  newest: { name: string; storedAt: string; ageMs: number } | undefined;
  /** Missing segments between each kept base backup's start (or the oldest segment) and the newest segment. */
  gaps: WalGap[];
  /** Timelines above 1 without their `.history` file. */
  missingHistories: number[];
  backups: BaseBackupWal[];
  /** Checks that could not run, with the reason (never a silent pass). */
  notVerified: string[];
  /** True when nothing is missing and every check ran. */
  ok: boolean;
}

export interface WalVerifyOptions {
  storage: Storage;
  /** The kept physical base backups (their manifests have `physical`). */
  backups: readonly BackupManifest[];
  /** Needed to read `.history` files; without them timeline switches are not verified. */
  identities: readonly string[];
  now?: Date;
}

/** The oldest segment of the lowest timeline: where continuity starts when there is no base backup. */
function oldestSegment(archive: WalArchive): { timeline: number; segment: bigint } | undefined {
  const timeline = [...archive.segments.keys()].sort((a, b) => a - b)[0];
  if (timeline === undefined) return undefined;
  const segment = [...archive.segments.get(timeline)!.keys()].reduce((a, b) => (b < a ? b : a));
  return { timeline, segment };
}

/**
 * Check the WAL archive's continuity: from each kept base backup's start segment (or the
 * oldest segment when there is none) to the newest segment of the timeline recovery would
 * follow, every segment present, across timeline switches read from the `.history` files.
 * Every gap is named by its segment range; a base backup whose own start..stop WAL is not
 * all there is marked missingWal (it cannot be restored at all).
 */
export async function verifyWalArchive(options: WalVerifyOptions): Promise<WalVerifyReport> {
  const segmentBytes = options.backups.find((b) => b.physical)?.physical?.walSegmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const archive = await listWalArchive(options.storage, segmentBytes);
  const notVerified: string[] = [];
  let histories: TimelineHistories = new Map();
  if (archive.histories.size > 0) {
    if (options.identities.length === 0) {
      notVerified.push(`timeline switches: ${archive.histories.size} .history file(s) are encrypted and no age identity is configured`);
    } else {
      try {
        histories = await readTimelineHistories(options.storage, archive, options.identities);
      } catch (error) {
        notVerified.push(`timeline switches: ${messageOf(error)}`);
      }
    }
  }
  const starts: { timeline: number; segment: bigint }[] = [];
  const backups: BaseBackupWal[] = [];
  for (const manifest of options.backups) {
    const facts = manifest.physical;
    if (!facts) continue;
    const start = parseWalFileName(facts.startWalFile, segmentBytes)!;
    const stop = parseWalFileName(facts.stopWalFile, segmentBytes)!;
    starts.push({ timeline: start.timeline, segment: start.segment! });
    const own = findGaps(archive, [{ timeline: facts.timeline, first: start.segment!, last: stop.segment! }]);
    backups.push({ backupId: manifest.id, timeline: facts.timeline, startWalFile: facts.startWalFile, stopWalFile: facts.stopWalFile, status: own.gaps.length ? "missingWal" : "complete", missing: own.gaps });
  }
  if (starts.length === 0) {
    const oldest = oldestSegment(archive);
    if (oldest) starts.push(oldest);
  }
  const seen = new Map<string, WalGap>();
  for (const start of starts) {
    for (const found of findGaps(archive, walChain(start.timeline, start.segment, histories, segmentBytes)).gaps) seen.set(found.range, found);
  }
  const gaps = [...seen.values()].sort((a, b) => a.timeline - b.timeline || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const now = options.now ?? new Date();
  const newest = archive.newest ? { name: archive.newest.name, storedAt: new Date(archive.newest.lastModified).toISOString(), ageMs: now.getTime() - archive.newest.lastModified } : undefined;
  const timelines = [...new Set([...archive.segments.keys(), ...archive.partials.keys()])].sort((a, b) => a - b);
  const noHistory = missingHistories(archive);
  if (archive.files.length === 0) notVerified.push(`continuity: no WAL in ${options.storage.location}wal/ (start 'dr-drill wal stream' or set archive_command)`);
  return {
    files: archive.files.length,
    segments: [...archive.segments.values()].reduce((n, m) => n + m.size, 0),
    timelines,
    newest,
    gaps,
    missingHistories: noHistory,
    backups,
    notVerified,
    ok: gaps.length === 0 && noHistory.length === 0 && notVerified.length === 0 && backups.every((b) => b.status === "complete"),
  };
}

/** One line per finding, for the command's output and error messages. */
export function describeWalReport(report: WalVerifyReport): string[] {
  const lines: string[] = [];
  lines.push(`${report.segments} segment(s) on timeline(s) ${report.timelines.join(", ") || "none"}; newest ${report.newest ? `${report.newest.name} stored ${report.newest.storedAt} (${Math.round(report.newest.ageMs / 1000)} s ago)` : "none"}`);
  for (const gap of report.gaps) lines.push(`gap: ${gap.range} missing`);
  for (const timeline of report.missingHistories) lines.push(`timeline ${timeline}: its .history file is missing`);
  for (const backup of report.backups) {
    lines.push(`base backup ${backup.backupId}: ${backup.status === "complete" ? `WAL ${backup.startWalFile}..${backup.stopWalFile} present` : `WAL missing: ${backup.missing.map((g) => g.range).join(", ")}`}`);
  }
  for (const reason of report.notVerified) lines.push(`not verified: ${reason}`);
  return lines;
}
