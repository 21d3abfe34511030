import type { DrConfig } from "../config/index.ts";
import { startNativeSandbox } from "./native/native-sandbox.ts";
import type { Sandbox } from "./sandbox.ts";

/** The sandbox DR_SANDBOX names: native scratch servers (default) or containers (loaded on demand). */
export async function openSandbox(config: DrConfig): Promise<Sandbox> {
  if (config.sandbox === "containers") {
    return await (await import("./containers/containers-sandbox.ts")).startContainersSandbox(config);
  }
  return startNativeSandbox();
}
