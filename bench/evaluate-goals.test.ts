import { describe, expect, it } from "vitest";
import { ratioOf } from "./evaluate-goals.ts";

describe("ratioOf", () => {
  it("divides the reference's time by dr-drill's and applies the goal to the median ratio", () => {
    const reference = { medianMs: 16_700, meanMs: 17_000 };
    const drdrill = { medianMs: 20_100, meanMs: 20_000 };
    const r = ratioOf(reference, drdrill, { op: ">=", value: 1 });
    expect(r.ratio).toBeCloseTo(0.83, 2);
    expect(r.ratioOfMeans).toBeCloseTo(0.85, 2);
    expect(r.met).toBe(false);
  });

  it("meets a >= goal on equality and a > goal only above it", () => {
    const same = { medianMs: 10, meanMs: 10 };
    expect(ratioOf(same, same, { op: ">=", value: 1 }).met).toBe(true);
    expect(ratioOf(same, same, { op: ">", value: 1 }).met).toBe(false);
    expect(ratioOf({ medianMs: 9, meanMs: 9 }, same, { op: ">=", value: 0.9 }).met).toBe(true);
  });

  it("is informative without a goal", () => {
    expect(ratioOf({ medianMs: 5, meanMs: 5 }, { medianMs: 10, meanMs: 10 }).met).toBeUndefined();
  });
});
