/**
 * PostgreSQL WAL file names and positions. A segment name is `TTTTTTTTXXXXXXXXYYYYYYYY`:
 * timeline, then the segment number split into a "log" (high part) and a "seg" (low part),
 * where one log holds 0x100000000 / segment size segments (256 for 16 MiB segments).
 * Positions (LSNs) are `X/Y` in hex. Everything here is arithmetic on those names, so the
 * archive can be checked without reading a single WAL byte.
 */
import type { PhysicalBackupFacts } from "../../manifest/index.ts";

/** PostgreSQL's default segment size; initdb --wal-segsize can change it (recorded in base manifests). */
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

/** Storage folder of the WAL archive: `wal/<original file name>.age`. */
export const WAL_PREFIX = "wal/";

/** What a file in the archive is. */
export type WalFileKind = "segment" | "partial" | "history" | "backup";

/** A WAL archive file name taken apart. */
export interface WalFileName {
  /** The original file name, e.g. `000000010000000000000003.partial`. */
  name: string;
  kind: WalFileKind;
  timeline: number;
  /** Segment number (log * segments per log + seg); undefined for `.history` files. */
  segment: bigint | undefined;
}

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const PARTIAL = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.partial$/;
const BACKUP = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.[0-9A-F]{8}\.backup$/;
const HISTORY = /^([0-9A-F]{8})\.history$/;

/** Segments in one "log" (the middle 8 hex digits), for a segment size. */
export function segmentsPerLog(segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  return 0x1_0000_0000n / BigInt(segmentBytes);
}

/** Parse a WAL archive file name; undefined when it is none of the four kinds. */
export function parseWalFileName(name: string, segmentBytes = DEFAULT_SEGMENT_BYTES): WalFileName | undefined {
  const history = HISTORY.exec(name);
  if (history) return { name, kind: "history", timeline: parseInt(history[1]!, 16), segment: undefined };
  const match = SEGMENT.exec(name) ?? PARTIAL.exec(name) ?? BACKUP.exec(name);
  if (!match) return undefined;
  const kind: WalFileKind = name.endsWith(".partial") ? "partial" : name.endsWith(".backup") ? "backup" : "segment";
  const seg = BigInt(`0x${match[3]!}`);
  if (seg >= segmentsPerLog(segmentBytes)) return undefined;
  return { name, kind, timeline: parseInt(match[1]!, 16), segment: BigInt(`0x${match[2]!}`) * segmentsPerLog(segmentBytes) + seg };
}

/** The segment file name of a timeline and segment number. */
export function segmentFileName(timeline: number, segment: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): string {
  const perLog = segmentsPerLog(segmentBytes);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, "0");
  return `${hex(timeline)}${hex(segment / perLog)}${hex(segment % perLog)}`;
}

/** The `.history` file name of a timeline. */
export function historyFileName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
}

/** An LSN (`16/B374D848`) as a number; throws on anything else. */
export function parseLsn(lsn: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!match) throw new Error(`'${lsn}' is not an LSN (expected hex X/Y, e.g. 0/3000028)`);
  return (BigInt(`0x${match[1]!}`) << 32n) + BigInt(`0x${match[2]!}`);
}

/** A number as an LSN string, as PostgreSQL prints it. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** The segment number holding the byte at lsn. */
export function segmentOfLsn(lsn: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  return lsn / BigInt(segmentBytes);
}

/**
 * The segment holding the record that ends at lsn (PostgreSQL's XLByteToPrevSeg): a backup's
 * stop LSN on a segment boundary belongs to the segment before it.
 */
export function segmentBeforeLsn(lsn: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  return (lsn - 1n) / BigInt(segmentBytes);
}

/** The first LSN of a segment. */
export function segmentStartLsn(segment: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  return segment * BigInt(segmentBytes);
}

/** `A` for one segment, `A..B` for a run: how gaps and ranges are named in messages. */
export function describeSegmentRange(timeline: number, first: bigint, last: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): string {
  const a = segmentFileName(timeline, first, segmentBytes);
  return first === last ? a : `${a}..${segmentFileName(timeline, last, segmentBytes)}`;
}

/** The storage key of a WAL archive file. */
export function walKey(name: string): string {
  return `${WAL_PREFIX}${name}.age`;
}

/** The original file name of a WAL archive key (undefined for other keys). */
export function walNameOfKey(key: string): string | undefined {
  if (!key.startsWith(WAL_PREFIX) || !key.endsWith(".age")) return undefined;
  return key.slice(WAL_PREFIX.length, -".age".length);
}

/** One timeline switch from a `.history` file: `parent` ended at `switchLsn`, where `timeline` began. */
export interface TimelineSwitch {
  parent: number;
  switchLsn: bigint;
}

/**
 * Parse a `.history` file: one line per ancestor, `<parent tli>\t<switch LSN>\t<reason>`,
 * oldest first; comments and blank lines ignored.
 */
export function parseHistoryFile(text: string): TimelineSwitch[] {
  const switches: TimelineSwitch[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [tli, lsn] = line.split(/\s+/);
    if (!tli || !lsn || !/^\d+$/.test(tli)) throw new Error(`bad history line '${line}'`);
    switches.push({ parent: Number(tli), switchLsn: parseLsn(lsn) });
  }
  return switches;
}

/** The segment file a backup's facts start from, parsed (restore and verify use it). */
export function startSegmentOf(facts: PhysicalBackupFacts): { timeline: number; segment: bigint } {
  const parsed = parseWalFileName(facts.startWalFile, facts.walSegmentBytes)!;
  return { timeline: parsed.timeline, segment: parsed.segment! };
}
