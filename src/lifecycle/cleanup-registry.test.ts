import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { pendingCleanups, registerCleanup, runAllCleanups } from "./cleanup-registry.ts";
import { makeTempDir, removeTempDir } from "./temp-dir.ts";

describe("cleanup registry", () => {
  it("runs cleanups newest first, and also those registered while it runs", async () => {
    const ran: string[] = [];
    registerCleanup(async () => void ran.push("oldest"));
    registerCleanup(async () => {
      ran.push("newest");
      registerCleanup(async () => void ran.push("registered meanwhile"));
    });
    await runAllCleanups();
    expect(ran).toEqual(["newest", "registered meanwhile", "oldest"]);
    expect(pendingCleanups()).toBe(0);
  });

  it("a temporary folder is registered for removal from the moment it exists, and unregistered by removeTempDir", async () => {
    const before = pendingCleanups();
    const kept = await makeTempDir("registry-test");
    expect(pendingCleanups()).toBe(before + 1);
    await removeTempDir(kept);
    expect(pendingCleanups()).toBe(before);
    const left = await makeTempDir("registry-test");
    await runAllCleanups();
    expect(existsSync(left)).toBe(false);
  });
});
