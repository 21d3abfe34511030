import { describe, expect, it } from "vitest";
import { checkSizeRange, median } from "./size-range.ts";
import { lossWindow, worstCaseRpo } from "./rpo.ts";
import { projectRto } from "./rto.ts";
import { gbPerMinute } from "./rate.ts";

describe("size range", () => {
  it("passes a dump near the median", () => {
    expect(checkSizeRange(100, [90, 110, 100]).ok).toBe(true);
  });
  it("fails a dump that shrank by more than half", () => {
    const r = checkSizeRange(40, [100, 100, 100]);
    expect(r.ok).toBe(false);
    expect(r.reasons[0]).toContain("shrank to 40%");
  });
  it("fails a dump that doubled", () => {
    expect(checkSizeRange(250, [100, 120]).ok).toBe(false);
  });
  it("applies configured bounds without history", () => {
    expect(checkSizeRange(10, [], { min: 20 }).reasons).toEqual(["below the configured minimum (20 bytes)"]);
  });
  it("computes medians", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});

describe("rpo, rto, rate", () => {
  it("measures", () => {
    expect(worstCaseRpo(3_600_000, 60_000)).toBe(3_660_000);
    expect(lossWindow(new Date(10_000), new Date(7_000))).toBe(3_000);
    expect(lossWindow(new Date(10_000), undefined)).toBeUndefined();
    expect(gbPerMinute(1.22e9, 60_000)).toBeCloseTo(1.22);
    expect(projectRto(1000, 100, 10, 5).projectedMs).toBe(105);
  });
});
