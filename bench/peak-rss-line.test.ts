import { describe, expect, it } from "vitest";
import { PEAK_RSS_PREFIX, parsePeakRss } from "./peak-rss-line.ts";

describe("parsePeakRss", () => {
  it("reads the KiB the preload printed as bytes, the last such line winning", () => {
    expect(parsePeakRss(["✔ Back up postgres", `${PEAK_RSS_PREFIX}1000`, `${PEAK_RSS_PREFIX}307200`])).toBe(307200 * 1024);
  });

  it("is undefined without the line or with a figure that is not a positive number", () => {
    expect(parsePeakRss(["✔ Back up postgres"])).toBeUndefined();
    expect(parsePeakRss([`${PEAK_RSS_PREFIX}lots`])).toBeUndefined();
    expect(parsePeakRss([`${PEAK_RSS_PREFIX}0`])).toBeUndefined();
  });
});
