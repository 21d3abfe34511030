import { describe, expect, it } from "vitest";
import { makeGoalLines, medianWithPeakRss, renderWalSection } from "./bench-report.ts";
import type { TaskSummary } from "./summarize-task.ts";

function task(id: string, facts: Record<string, number>[]): TaskSummary {
  const zero = { bench: 0, tools: 0, s3: 0, postgres: 0 };
  return { id, name: id, group: "postgres", command: "", notes: "", samplesMs: [1], meanMs: 1, medianMs: 1, minMs: 1, maxMs: 1, sdMs: 0, inputBytes: 0, throughputMBps: 0, cpu: [], medianCpu: zero, facts };
}

describe("renderWalSection", () => {
  it("shows the median of each iteration's own figure, not the task's wall time", () => {
    const lines = renderWalSection([
      task("wal-push", [{ msPerSegment: 300, maxMsPerSegment: 900 }, { msPerSegment: 100, maxMsPerSegment: 200 }, { msPerSegment: 200, maxMsPerSegment: 400 }]),
      task("wal-stream", [{ walMBps: 12.5, generatedMBps: 14, catchUpMs: 2500, receiveLagBytesMedian: 1e6, receiveLagBytesMax: 3e6, archiveLagBytesMedian: 8e6, archiveLagBytesMax: 2e7, archiveLagSecondsMedian: 1.5, archiveLagSecondsMax: 4 }]),
    ]).join("\n");
    expect(lines).toContain("| wal push: time per 16 MiB segment (median of the iterations' medians) | 200 ms |");
    expect(lines).toContain("| wal push: slowest segment (median over iterations) | 400 ms |");
    expect(lines).toContain("| 12.5 MB/s |");
    expect(lines).toContain("| 2.5 s |");
    expect(lines).toContain("| 1.00 MB / 3.00 MB |");
    expect(lines).toContain("| 1.5 s / 4.0 s |");
  });

  it("says 'not measured' for a figure an iteration did not record, and nothing at all when neither task ran", () => {
    expect(renderWalSection([task("wal-push", [])]).join("\n")).toContain("| not measured |");
    expect(renderWalSection([task("cli-backup", [])])).toEqual([]);
  });
});

describe("makeGoalLines", () => {
  it("writes a goal with two decimals at most: 2/3 as 0.67x, 1 as 1x, 0.85 as 0.85x", () => {
    const ratio = (value: number, met: boolean) => ({ label: "x", formula: "", ratio: 1, ratioOfMeans: 1, goal: { op: ">=" as const, value }, met });
    expect(makeGoalLines({ ratios: [ratio(2 / 3, true), ratio(1, false), ratio(0.85, true)], limits: [] })).toEqual([
      "x: 1.00x (means: 1.00x) MET (goal >= 0.67x)",
      "x: 1.00x (means: 1.00x) MISSED (goal >= 1x)",
      "x: 1.00x (means: 1.00x) MET (goal >= 0.85x)",
    ]);
  });
});

describe("medianWithPeakRss", () => {
  it("adds the median peak RSS of the CLI process to its median time, and only the time when none was measured", () => {
    const tasks = new Map([
      ["cli-backup-physical", task("cli-backup-physical", [{ peakRssBytes: 300 * 1024 * 1024 }, { peakRssBytes: 310 * 1024 * 1024 }, { peakRssBytes: 290 * 1024 * 1024 }])],
      ["cli-backup", task("cli-backup", [{ storedBytes: 5 }])],
    ]);
    expect(medianWithPeakRss(tasks, "cli-backup-physical")).toBe("0.00 s (peak RSS 300 MiB)");
    expect(medianWithPeakRss(tasks, "cli-backup")).toBe("0.00 s");
    expect(medianWithPeakRss(tasks, "pgbackrest-backup")).toBe("not run");
  });
});
