import { join } from "node:path";
import type { DrConfig } from "../config/index.ts";
import { DrError } from "../errors/index.ts";
import { startNativeTarget } from "./native/native-target.ts";
import type { StartedTarget } from "./target.ts";

/**
 * Start the rehearsal target the configuration names (DR_TARGET / --target): source,
 * repository endpoint and scratch servers in one; native is the default.
 * `persistent` keeps the native servers' data in the workspace folder across invocations
 * (so `backup` then `verify` see the same bucket); the drill runs on throwaway servers.
 */
export async function startTarget(config: DrConfig, options: { persistent?: boolean } = {}): Promise<StartedTarget> {
  switch (config.target) {
    case "native":
      return await startNativeTarget(options.persistent ? { stateDir: join(config.stateDir, "native") } : {});
    case "external":
      // A team's production is never one bundle: commands open its source, repository
      // and a sandbox separately (cli/session.ts), and its drill restores what exists.
      throw new DrError("CONFIG_INVALID", "unable to start target 'external' as a rehearsal: a team's own servers are never seeded, broken or backed up by a drill", {
        hint: "run 'dr-drill drill' (it drills the existing backups on the external target), or use DR_TARGET=native / containers for a rehearsal",
      });
    case "containers":
      if (options.persistent) {
        throw new DrError("CONFIG_INVALID", "unable to start target 'containers' for this command: its containers do not outlive one command, so a backup would be gone before it could be listed or verified", {
          hint: "use DR_TARGET=native (persistent workspace) or DR_TARGET=external; the containers target is for 'dr-drill drill' and the ops tests",
        });
      }
      // Loaded on demand: testcontainers is heavy and only this target needs it.
      return await (await import("./containers/containers-target.ts")).startContainersTarget(config);
  }
}
