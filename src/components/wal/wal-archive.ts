import { text } from "node:stream/consumers";
import { decryptStream } from "../../crypto/age.ts";
import type { Storage } from "../../storage/storage.ts";
import {
  DEFAULT_SEGMENT_BYTES,
  WAL_PREFIX,
  describeSegmentRange,
  historyFileName,
  parseHistoryFile,
  parseWalFileName,
  segmentOfLsn,
  walKey,
  walNameOfKey,
  type TimelineSwitch,
  type WalFileKind,
} from "./wal-names.ts";

/** One file of the WAL archive as listed. */
export interface WalArchiveFile {
  /** Original file name, e.g. `000000010000000000000003`. */
  name: string;
  key: string;
  kind: WalFileKind;
  timeline: number;
  segment: bigint | undefined;
  /** Stored bytes. */
  size: number;
  /** When the storage received it, ms since epoch: a segment holds only WAL written before. */
  lastModified: number;
}

/** What the `wal/` folder holds, indexed for continuity checks. */
export interface WalArchive {
  files: WalArchiveFile[];
  /** Complete segments per timeline, by segment number. */
  segments: Map<number, Map<bigint, WalArchiveFile>>;
  /** `.partial` files per timeline, by segment number (the streamer's segment in progress). */
  partials: Map<number, Map<bigint, WalArchiveFile>>;
  /** `.history` files by timeline. */
  histories: Map<number, WalArchiveFile>;
  /** The most recently stored segment or partial: the archive's newest WAL. */
  newest: WalArchiveFile | undefined;
  segmentBytes: number;
}

/** List and index the WAL archive; keys that are not WAL file names are ignored. */
export async function listWalArchive(storage: Storage, segmentBytes = DEFAULT_SEGMENT_BYTES): Promise<WalArchive> {
  const archive: WalArchive = { files: [], segments: new Map(), partials: new Map(), histories: new Map(), newest: undefined, segmentBytes };
  for await (const object of storage.list(WAL_PREFIX)) {
    const name = walNameOfKey(object.key);
    const parsed = name === undefined ? undefined : parseWalFileName(name, segmentBytes);
    if (!parsed) continue;
    const file: WalArchiveFile = { ...parsed, key: object.key, size: object.size, lastModified: object.lastModified };
    archive.files.push(file);
    if (file.kind === "history") archive.histories.set(file.timeline, file);
    const byKind = file.kind === "segment" ? archive.segments : file.kind === "partial" ? archive.partials : undefined;
    if (byKind && file.segment !== undefined) {
      const timeline = byKind.get(file.timeline) ?? new Map<bigint, WalArchiveFile>();
      timeline.set(file.segment, file);
      byKind.set(file.timeline, timeline);
    }
    if ((file.kind === "segment" || file.kind === "partial") && (!archive.newest || isNewer(file, archive.newest))) archive.newest = file;
  }
  return archive;
}

/** Later segment wins; the same segment complete beats its partial. */
function isNewer(a: WalArchiveFile, b: WalArchiveFile): boolean {
  if (a.segment! !== b.segment!) return a.segment! > b.segment!;
  if (a.timeline !== b.timeline) return a.timeline > b.timeline;
  return a.kind === "segment" && b.kind === "partial";
}

/** The parsed `.history` files (decrypting each: they are a few lines). */
export type TimelineHistories = Map<number, TimelineSwitch[]>;

/** Read every `.history` file of the archive. */
export async function readTimelineHistories(storage: Storage, archive: WalArchive, identities: readonly string[]): Promise<TimelineHistories> {
  const histories: TimelineHistories = new Map();
  for (const [timeline, file] of archive.histories) {
    const body = await storage.get(file.key);
    histories.set(timeline, parseHistoryFile(await text(await decryptStream(body, identities, `wal/${file.name}`))));
  }
  return histories;
}

/** A run of segments one timeline must supply. */
export interface SegmentRange {
  timeline: number;
  first: bigint;
  /** Inclusive; undefined for the open end of the last timeline ("up to the newest"). */
  last: bigint | undefined;
}

/**
 * The newest timeline that descends from `timeline` (its own history lists `timeline` as an
 * ancestor), or `timeline` itself: what PostgreSQL's recovery_target_timeline = 'latest' follows.
 */
export function latestDescendant(timeline: number, histories: TimelineHistories): number {
  let best = timeline;
  for (const [candidate, switches] of histories) {
    if (candidate > best && switches.some((s) => s.parent === timeline)) best = candidate;
  }
  return best;
}

/**
 * The segments a recovery replays from `startSegment` on `timeline` to the newest WAL of the
 * latest descendant timeline: on each timeline up to the segment before the switch (the new
 * timeline's copy of the switch segment holds the old timeline's part too), then onwards.
 */
export function walChain(timeline: number, startSegment: bigint, histories: TimelineHistories, segmentBytes = DEFAULT_SEGMENT_BYTES): SegmentRange[] {
  const target = latestDescendant(timeline, histories);
  const switches = target === timeline ? [] : (histories.get(target) ?? []);
  // History entries list every ancestor oldest first; keep those from our timeline on.
  const from = switches.findIndex((s) => s.parent === timeline);
  const path = from < 0 ? [] : switches.slice(from);
  const ranges: SegmentRange[] = [];
  let first = startSegment;
  for (let i = 0; i < path.length; i += 1) {
    const current = path[i]!;
    const switchSegment = segmentOfLsn(current.switchLsn, segmentBytes);
    if (switchSegment > first) ranges.push({ timeline: current.parent, first, last: switchSegment - 1n });
    if (switchSegment > first) first = switchSegment;
  }
  ranges.push({ timeline: target, first, last: undefined });
  return ranges;
}

/** A run of missing segments, named for messages. */
export interface WalGap {
  timeline: number;
  first: bigint;
  last: bigint;
  /** `000000010000000000000005..000000010000000000000007`. */
  range: string;
}

/**
 * Close the open end of a chain at the newest complete segment of its last timeline (or at
 * `end` when given) and list the segments it needs that are missing, as runs.
 */
export function findGaps(archive: WalArchive, chain: readonly SegmentRange[], end?: bigint): { gaps: WalGap[]; last: bigint | undefined } {
  const gaps: WalGap[] = [];
  let lastSegment: bigint | undefined;
  for (const range of chain) {
    if (end !== undefined && range.first > end) break;
    const present = archive.segments.get(range.timeline) ?? new Map<bigint, WalArchiveFile>();
    let last = range.last;
    if (last === undefined) {
      const newest = [...present.keys()].reduce<bigint | undefined>((a, b) => (a === undefined || b > a ? b : a), undefined);
      last = end ?? newest;
      if (last === undefined) continue;
    }
    if (end !== undefined && last > end) last = end;
    let runStart: bigint | undefined;
    for (let segment = range.first; segment <= last; segment += 1n) {
      if (!present.has(segment)) {
        runStart ??= segment;
        continue;
      }
      if (runStart !== undefined) gaps.push(gap(range.timeline, runStart, segment - 1n, archive.segmentBytes));
      runStart = undefined;
    }
    if (runStart !== undefined) gaps.push(gap(range.timeline, runStart, last, archive.segmentBytes));
    lastSegment = last;
  }
  return { gaps, last: lastSegment };
}

function gap(timeline: number, first: bigint, last: bigint, segmentBytes: number): WalGap {
  return { timeline, first, last, range: describeSegmentRange(timeline, first, last, segmentBytes) };
}

/** Timelines above 1 met in the archive whose `.history` file is missing (recovery cannot follow them). */
export function missingHistories(archive: WalArchive): number[] {
  const timelines = new Set<number>([...archive.segments.keys(), ...archive.partials.keys()]);
  return [...timelines].filter((t) => t > 1 && !archive.histories.has(t)).sort((a, b) => a - b);
}

/** The key of a timeline's history file (for messages and fetches). */
export function historyKey(timeline: number): string {
  return walKey(historyFileName(timeline));
}
