import type { DrConfig } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import type { StartedTarget } from "../target.ts";

/** Containers target (testcontainers): not built yet; fails loudly rather than falling back. */
export async function startContainersTarget(_config: DrConfig): Promise<StartedTarget> {
  throw new DrError("TARGET_START_FAILED", "unable to start target 'containers': not implemented yet", {
    hint: "use DR_TARGET=native (the default) or DR_TARGET=external",
  });
}
