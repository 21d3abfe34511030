import { messageOf } from "../errors/index.ts";
import { OPS_CHECKS } from "./ops-checks.ts";
import type { OpsCheck, OpsInput, OpsTestResult } from "./ops-check.ts";

/** Run one check, timing it; an exception is a failure with its message. */
export async function runOpsCheck(check: OpsCheck, input: OpsInput): Promise<OpsTestResult> {
  const started = performance.now();
  try {
    const outcome = await check.run(input);
    return { name: check.name, ...outcome, durationMs: performance.now() - started };
  } catch (error) {
    return { name: check.name, status: "failed", detail: messageOf(error).split("\n")[0]!, durationMs: performance.now() - started };
  }
}

/** Run the ops checks in order (the reference's ten, then the ones beyond it). */
export async function runOpsChecks(input: OpsInput): Promise<OpsTestResult[]> {
  const results: OpsTestResult[] = [];
  for (const check of OPS_CHECKS) results.push(await runOpsCheck(check, input));
  return results;
}
