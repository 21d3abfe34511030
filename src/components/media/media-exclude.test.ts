import { describe, expect, it } from "vitest";
import { makeExcludeMatcher } from "./media-exclude.ts";

describe("media excludes", () => {
  const m = makeExcludeMatcher(["*.pyc", "__pycache__/", ".DS_Store", "uploads/tmp/**"]);
  it("matches file names at any depth", () => {
    expect(m.excludesFile("a/b/c.pyc")).toBe(true);
    expect(m.excludesFile("x/.DS_Store")).toBe(true);
    expect(m.excludesFile("x/DS_Store")).toBe(false);
    expect(m.excludesFile("a/b/c.py")).toBe(false);
  });
  it("matches folder names at any depth", () => {
    expect(m.excludesDir("app/__pycache__")).toBe(true);
    expect(m.excludesDir("__pycache__")).toBe(true);
    expect(m.excludesDir("app/pycache")).toBe(false);
  });
  it("matches anchored paths", () => {
    expect(m.excludesDir("uploads/tmp")).toBe(true);
    expect(m.excludesFile("uploads/tmp/x/y.bin")).toBe(true);
    expect(m.excludesFile("media/uploads/tmp/y.bin")).toBe(false);
  });
  it("accepts the aws-cli form __pycache__/*", () => {
    expect(makeExcludeMatcher(["__pycache__/*"]).excludesDir("a/__pycache__")).toBe(true);
  });
});
