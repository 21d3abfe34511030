import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, parseDuration, parseSize } from "./units.ts";

describe("units", () => {
  it("parses durations", () => {
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1ms")).toBe(1);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration("15")).toBeUndefined();
    expect(parseDuration("")).toBeUndefined();
  });

  it("parses sizes", () => {
    expect(parseSize("50MB")).toBe(50_000_000);
    expect(parseSize("1GB")).toBe(1e9);
    expect(parseSize("512MiB")).toBe(512 * 1024 * 1024);
    expect(parseSize("1024")).toBe(1024);
    expect(parseSize("lots")).toBeUndefined();
  });

  it("formats like the reference report", () => {
    expect(formatDuration(754_000)).toBe("12m 34s");
    expect(formatDuration(1500)).toBe("1.5s");
    expect(formatDuration(12)).toBe("12ms");
    expect(formatBytes(12_300_000_000)).toBe("12.3 GB");
    expect(formatBytes(512)).toBe("512 B");
  });
});
