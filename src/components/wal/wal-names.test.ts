import { describe, expect, it } from "vitest";
import { describeSegmentRange, formatLsn, parseHistoryFile, parseLsn, parseWalFileName, segmentBeforeLsn, segmentFileName, segmentOfLsn } from "./wal-names.ts";

describe("WAL names", () => {
  it("parses the four kinds of archive file", () => {
    expect(parseWalFileName("0000000100000002000000FF")).toEqual({ name: "0000000100000002000000FF", kind: "segment", timeline: 1, segment: 2n * 256n + 255n });
    expect(parseWalFileName("00000003000000000000000A.partial")?.kind).toBe("partial");
    expect(parseWalFileName("000000010000000000000002.00000028.backup")).toMatchObject({ kind: "backup", timeline: 1, segment: 2n });
    expect(parseWalFileName("0000000A.history")).toEqual({ name: "0000000A.history", kind: "history", timeline: 10, segment: undefined });
    // The low part of a 16 MiB segment name never exceeds FF; lower-case and stray names are not WAL.
    expect(parseWalFileName("000000010000000000000100")).toBeUndefined();
    expect(parseWalFileName("00000001000000000000000a")).toBeUndefined();
    expect(parseWalFileName("archive_status")).toBeUndefined();
  });

  it("round-trips segment numbers and LSNs, across a log boundary", () => {
    expect(segmentFileName(1, 255n)).toBe("0000000100000000000000FF");
    expect(segmentFileName(1, 256n)).toBe("000000010000000100000000");
    expect(segmentFileName(2, 3n, 64 * 1024 * 1024)).toBe("000000020000000000000003");
    expect(parseLsn("16/B374D848")).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe("16/B374D848");
    expect(segmentOfLsn(parseLsn("0/3000000"))).toBe(3n);
    // A stop LSN on a boundary belongs to the segment before it (XLByteToPrevSeg).
    expect(segmentBeforeLsn(parseLsn("0/3000000"))).toBe(2n);
    expect(segmentBeforeLsn(parseLsn("0/3000100"))).toBe(3n);
    expect(() => parseLsn("3000000")).toThrow(/not an LSN/);
  });

  it("names ranges and parses history files", () => {
    expect(describeSegmentRange(1, 5n, 7n)).toBe("000000010000000000000005..000000010000000000000007");
    expect(describeSegmentRange(1, 5n, 5n)).toBe("000000010000000000000005");
    expect(parseHistoryFile("1\t0/3000198\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-01-01\n")).toEqual([
      { parent: 1, switchLsn: 0x3000198n },
      { parent: 2, switchLsn: 0x5000000n },
    ]);
  });
});
