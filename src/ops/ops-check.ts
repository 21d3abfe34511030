import type { DrConfig } from "../config/index.ts";
import type { Verdict } from "../measure/verdict.ts";
import type { DrillResult } from "../drill/drill-result.ts";
import type { Storage } from "../storage/storage.ts";
import type { Source } from "../targets/source.ts";

/**
 * What every ops check gets: the drill's measurements and the source. In a rehearsal the
 * source is the drill's own servers (writable); for existing backups it is a team's own
 * servers, only read and maybe down, so a check that would write reports "not verified"
 * or works on a scratch location.
 */
export interface OpsInput {
  drill: DrillResult;
  config: DrConfig;
  source: Source;
  storage: Storage;
  identities: readonly string[];
  recipients: readonly string[];
  /** The identity file, for the stock `age -d -i FILE` check (undefined: that part is not verified). */
  identityFile: string | undefined;
  /** Makes a storage rooted at a sub-prefix (scratch space for checks that write). */
  scratchStorage: (prefix: string) => Storage & { client?: unknown };
}

/** A check's verdict: the one verdict type ("not configured" is neutral). */
export type OpsOutcome = Verdict;

/** One ops test: the ten named as in the reference document, then the ones beyond it. */
export interface OpsCheck {
  name: string;
  run(input: OpsInput): Promise<OpsOutcome>;
}

/** One check's result with its runtime, as the report's table shows it. */
export interface OpsTestResult extends OpsOutcome {
  name: string;
  durationMs: number;
}

/** passed when every condition holds, else failed with the conditions that did not. */
export function verdict(conditions: readonly [boolean, string][], facts: string): OpsOutcome {
  const failed = conditions.filter(([ok]) => !ok).map(([, what]) => what);
  return failed.length ? { status: "failed", detail: `${failed.join("; ")} (${facts})` } : { status: "passed", detail: facts };
}
