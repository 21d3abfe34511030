import { describe, expect, it } from "vitest";
import { isDrError } from "../errors/index.ts";
import { findBinary } from "./binaries.ts";

describe("findBinary", () => {
  it("finds a binary on PATH", () => {
    expect(findBinary("sh", { PATH: "/usr/bin:/bin" })).toMatch(/\/sh$/);
  });

  it("names the missing binary and the install command", () => {
    expect.assertions(3);
    let error: unknown;
    try {
      findBinary("redis-check-rdb-not-here", { PATH: "/nonexistent" });
    } catch (e) {
      error = e;
    }
    expect(isDrError(error, "BINARY_MISSING")).toBe(true);
    try {
      findBinary("redis-cli", { PATH: "/nonexistent" });
    } catch (e) {
      if (!isDrError(e)) throw e;
      expect(e.message).toBe("unable to find binary 'redis-cli': not on PATH");
      expect(e.hint).toBe("install it with 'apt-get install redis-tools' (or run 'bash scripts/bootstrap.sh')");
    }
  });
});
