import { describe, expect, it } from "vitest";
import { gbPerMinute, medianSlices, parseCliSteps, parseDurationText, sliceBackupRun, sliceCliRun } from "./cli-steps.ts";
import type { TimedLine } from "./cli-process.ts";

const line = (atMs: number, text: string): TimedLine => ({ atMs, stream: "stderr", text });

describe("parseDurationText", () => {
  it("reads every form formatDuration writes", () => {
    expect(parseDurationText("850ms")).toBe(850);
    expect(parseDurationText("6.6s")).toBe(6600);
    expect(parseDurationText("1m 5s")).toBe(65_000);
    expect(parseDurationText("2m")).toBe(120_000);
    expect(parseDurationText("1h 2m 3s")).toBe(3_723_000);
  });
  it("refuses what is not a duration", () => {
    expect(parseDurationText("soon")).toBeUndefined();
    expect(parseDurationText("5 parsecs")).toBeUndefined();
    expect(parseDurationText("")).toBeUndefined();
  });
});

describe("parseCliSteps and sliceCliRun", () => {
  const lines = [
    line(100, "Restoring postgres-20261202 (finished …)"),
    line(900, "  … Create scratch database"),
    line(1200, "  ✔ Create scratch database (300ms): created bench_restore_cli_1"),
    line(1210, "  … Download and decrypt dump"),
    line(7810, "  ✔ Download and decrypt dump (6.6s): 300 MB downloaded, 290 MB dump, SHA-256 verified"),
    line(7820, "  … Restore from pg_dump"),
    line(24_900, "  ✔ Restore from pg_dump (17.1s): pg_restore --jobs=2 --no-owner --no-acl"),
    line(25_500, "Restored into …"),
  ];

  it("finds each step with its printed time and the arrival of its start and end lines", () => {
    const steps = parseCliSteps(lines);
    expect(steps.map((s) => [s.name, s.printedMs, s.startedAtMs, s.endedAtMs])).toEqual([
      ["Create scratch database", 300, 900, 1200],
      ["Download and decrypt dump", 6600, 1210, 7810],
      ["Restore from pg_dump", 17_100, 7820, 24_900],
    ]);
  });

  it("cuts the wall time into slices that add up to the exit time", () => {
    const slices = sliceCliRun(parseCliSteps(lines), 26_000);
    expect(slices[0]).toEqual({ name: expect.stringContaining("before the first step"), ms: 900 });
    expect(slices.find((s) => s.name === "Download and decrypt dump")?.ms).toBe(6600);
    expect(slices.at(-1)).toEqual({ name: expect.stringContaining("after the last step"), ms: 1100 });
    expect(slices.reduce((sum, s) => sum + s.ms, 0)).toBe(26_000);
  });

  it("says so when a process printed no step", () => {
    expect(sliceCliRun([], 1234)).toEqual([{ name: "whole process (no step lines)", ms: 1234 }]);
  });
});

describe("medianSlices", () => {
  it("takes the median of each slice over the runs, a missing slice counting as 0", () => {
    const runs = [
      [{ name: "a", ms: 1 }, { name: "b", ms: 10 }],
      [{ name: "a", ms: 3 }, { name: "b", ms: 30 }],
      [{ name: "a", ms: 2 }],
    ];
    expect(medianSlices(runs)).toEqual([{ name: "a", ms: 2 }, { name: "b", ms: 10 }]);
  });
});

describe("gbPerMinute", () => {
  it("turns bytes and ms into GB of database per minute", () => {
    expect(gbPerMinute(1e9, 30_000)).toBeCloseTo(2);
    expect(gbPerMinute(1e9, 0)).toBeNaN();
  });
});

describe("sliceBackupRun", () => {
  it("cuts at listr's task lines and the summary's backup time", () => {
    const lines = [
      line(1500, "❯ Back up postgres"),
      line(13_700, "✔ Back up postgres"),
      { atMs: 13_710, stream: "stdout" as const, text: "postgres-20261202T140546219Z: 300 MB stored in 11.9s, encrypted (age), sha256 4441cd2f5193d6b2…" },
    ];
    const slices = sliceBackupRun({ lines, exitMs: 14_000 });
    expect(slices.map((s) => s.ms)).toEqual([1500, 11_900, 300, 300]);
    expect(slices[1]?.name).toMatch(/^backupPostgres\(\)/);
  });

  it("keeps the whole process as one slice when the task lines are missing", () => {
    expect(sliceBackupRun({ lines: [line(5, "something else")], exitMs: 99 })).toEqual([{ name: "whole process (no task lines)", ms: 99 }]);
  });
});
