import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backupMeter, formatTransfer, printSteps, transferMeter } from "./progress.ts";

/** A stream that records what is written to it; a terminal or not. */
function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const writes: string[] = [];
  return {
    isTTY,
    write: (chunk: string) => {
      writes.push(chunk);
      return true;
    },
    text: () => writes.join(""),
  } as unknown as NodeJS.WriteStream & { text: () => string };
}

describe("formatTransfer", () => {
  it("bytes of the total, percent, rate and ETA", () => {
    expect(formatTransfer(1e9, 4e9, 10_000)).toBe("1.00 GB of 4.00 GB (25%), 100.0 MB/s, ETA 30.0s");
  });
  it("no ETA when done or when the total is unknown", () => {
    expect(formatTransfer(4e9, 4e9, 40_000)).toBe("4.00 GB of 4.00 GB (100%), 100.0 MB/s");
    expect(formatTransfer(5e8, undefined, 5_000)).toBe("500.0 MB, 100.0 MB/s");
  });
});

describe("transferMeter", () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.CI;
    delete process.env.CI;
    vi.useFakeTimers({ toFake: ["performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
    if (saved !== undefined) process.env.CI = saved;
  });

  it("in logs: a plain line every 10 s, none in between, nothing at the end", () => {
    const stream = fakeStream(false);
    const meter = transferMeter("download b1", 3e9, stream);
    vi.advanceTimersByTime(5_000);
    meter.update(5e8);
    expect(stream.text()).toBe("");
    vi.advanceTimersByTime(5_000);
    meter.update(1e9);
    expect(stream.text()).toBe("download b1: 1.00 GB of 3.00 GB (33%), 100.0 MB/s, ETA 20.0s\n");
    meter.done();
    expect(stream.text().split("\n")).toHaveLength(2);
  });

  it("on a terminal: one line rewritten in place; step lines go above it and it is drawn again", () => {
    const stream = fakeStream(true);
    const meter = transferMeter("download b1", 2e9, stream);
    vi.advanceTimersByTime(1_000);
    meter.update(1e8);
    expect(stream.text()).toBe("\rdownload b1: 100.0 MB of 2.00 GB (5%), 100.0 MB/s, ETA 19.0s\u001b[K");
    printSteps("  ", stream)({ type: "end", step: { name: "Create scratch database", startedAt: 0, durationMs: 300, status: "ok", detail: "created x" } });
    expect(stream.text()).toBe(
      "\rdownload b1: 100.0 MB of 2.00 GB (5%), 100.0 MB/s, ETA 19.0s\u001b[K" +
        "\r\u001b[K  ✔ Create scratch database (300ms): created x\ndownload b1: 100.0 MB of 2.00 GB (5%), 100.0 MB/s, ETA 19.0s",
    );
    meter.done();
    expect(stream.text().endsWith("\n")).toBe(true);
    // Once done, step lines are plain again.
    const before = stream.text().length;
    printSteps("", stream)({ type: "start", step: { name: "Cleanup", startedAt: 0, durationMs: 0, status: "ok", detail: "" } });
    expect(stream.text().slice(before)).toBe("… Cleanup\n");
  });
});

describe("backupMeter", () => {
  let savedCi: string | undefined;
  let savedTty: boolean | undefined;
  beforeEach(() => {
    savedCi = process.env.CI;
    savedTty = process.stdout.isTTY;
    vi.useFakeTimers({ toFake: ["performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
    process.stdout.isTTY = savedTty as true;
  });

  it("in logs: a line every 10 s to stderr with the ETA against the previous backup's size, said to be an estimate", () => {
    process.env.CI = "true";
    const stream = fakeStream(false);
    const statuses: string[] = [];
    const meter = backupMeter("back up postgres", 4e9, (s) => statuses.push(s), stream);
    vi.advanceTimersByTime(10_000);
    meter.update(1e9);
    meter.done();
    expect(stream.text()).toBe("back up postgres (size estimated from the previous backup, 4.00 GB): 1.00 GB of 4.00 GB (25%), 100.0 MB/s, ETA 30.0s\n");
    expect(statuses).toEqual([]);
  });

  it("on a terminal: the task's status line, the total marked as approximate; without a previous backup, bytes and rate only", () => {
    delete process.env.CI;
    process.stdout.isTTY = true;
    const stream = fakeStream(true);
    const statuses: string[] = [];
    const meter = backupMeter("back up redis", 2e8, (s) => statuses.push(s), stream);
    vi.advanceTimersByTime(2_000);
    meter.update(1e8);
    const unknown = backupMeter("back up redis", undefined, (s) => statuses.push(s), stream);
    vi.advanceTimersByTime(1_000);
    unknown.update(2e8);
    expect(statuses).toEqual(["uploaded 100.0 MB of ~200.0 MB (50%), 50.0 MB/s, ETA 2.0s", "uploaded 200.0 MB, 200.0 MB/s"]);
    expect(stream.text()).toBe("");
  });
});
