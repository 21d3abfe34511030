import { describe, expect, it } from "vitest";
import { hasExternalMemoryFlag } from "./gc-tuning.ts";

describe("hasExternalMemoryFlag", () => {
  it("is true from V8 13.6 on (Node 24) and false before, where the flag would be an unknown-flag error", () => {
    expect(hasExternalMemoryFlag("13.6.233.17-node.63")).toBe(true);
    expect(hasExternalMemoryFlag("14.1.0")).toBe(true);
    expect(hasExternalMemoryFlag("13.5.212.10")).toBe(false);
    expect(hasExternalMemoryFlag("12.4.254.21-node.33")).toBe(false);
    expect(hasExternalMemoryFlag("garbage")).toBe(false);
  });
});
