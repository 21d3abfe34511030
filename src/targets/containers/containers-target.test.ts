import { describe, expect, it } from "vitest";
import { buildConfig } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import { pendingCleanups } from "../../lifecycle/index.ts";
import { startContainersTarget } from "./containers-target.ts";

describe("startContainersTarget without a Docker engine", () => {
  it("fails fast with the engine message and starts nothing else in its place", async () => {
    const config = buildConfig(undefined, { DR_TARGET: "containers" });
    const error = await startContainersTarget(config, {
      connect: async () => {
        throw new Error("Could not find a working container runtime strategy");
      },
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DrError);
    const drError = error as DrError;
    expect(drError.code).toBe("TARGET_START_FAILED");
    expect(drError.exitCode).toBe(1);
    expect(drError.message).toMatch(/^unable to start target 'containers': no Docker engine answered \(Could not find a working container runtime strategy; /);
    expect(drError.hint).toBe("run 'bash scripts/start-dockerd.sh' (installs docker.io and starts dockerd)");
    // Nothing was started, so nothing is waiting to be cleaned up.
    expect(pendingCleanups()).toBe(0);
  });
});
