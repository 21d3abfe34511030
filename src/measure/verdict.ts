/**
 * The one verdict every judged thing carries (a step's check, a smoke check, an ops check,
 * a scenario, a report row): judged once where the facts are, rendered everywhere else.
 * "not configured" is neutral: the source has no such component.
 */
export interface Verdict {
  status: "passed" | "failed" | "not verified" | "not configured";
  /** The facts behind it (bytes, counts, checksums, durations), or why it could not be judged. */
  detail: string;
}

export type VerdictStatus = Verdict["status"];

/** A named verdict: one check in a list. */
export interface Check extends Verdict {
  name: string;
}

/** passed when the condition holds, else failed; the detail states the facts either way. */
export function judge(ok: boolean, detail: string): Verdict {
  return { status: ok ? "passed" : "failed", detail };
}

/** Not judged, with the reason (never a silent pass). */
export function notVerified(reason: string): Verdict {
  return { status: "not verified", detail: reason };
}

/** Several verdicts as one: failed if any failed, else not verified if any was not, else passed. */
export function combineVerdicts(checks: readonly Check[]): Verdict {
  const failed = checks.filter((c) => c.status === "failed");
  if (failed.length) return { status: "failed", detail: failed.map((c) => `${c.name}: ${c.detail}`).join("; ") };
  const open = checks.filter((c) => c.status === "not verified");
  if (open.length) return { status: "not verified", detail: open.map((c) => `${c.name}: ${c.detail}`).join("; ") };
  return { status: "passed", detail: checks.map((c) => c.name).join(", ") };
}
