import type { CliRun, TimedLine } from "./cli-process.ts";

/** One step of a dr-drill process, from its own step log and the arrival times of its lines. */
export interface CliStep {
  name: string;
  /** The duration the step line printed (formatDuration: 1 decimal under a minute), ms. */
  printedMs: number;
  /** When its start line arrived, ms after the spawn (undefined: no start line seen). */
  startedAtMs: number | undefined;
  /** When its end line arrived, ms after the spawn. */
  endedAtMs: number;
}

/** `850ms`, `6.6s`, `1m 5s`, `1h 2m 3s` (formatDuration's output) back to ms; undefined when it is not one. */
export function parseDurationText(text: string): number | undefined {
  const trimmed = text.trim();
  const ms = /^(\d+(?:\.\d+)?)ms$/.exec(trimmed);
  if (ms) return Number(ms[1]);
  const secondsOnly = /^(\d+(?:\.\d+)?)s$/.exec(trimmed);
  if (secondsOnly) return Number(secondsOnly[1]) * 1000;
  const units: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
  const parts = trimmed.split(/\s+/);
  let total = 0;
  for (const part of parts) {
    const match = /^(\d+)([dhms])$/.exec(part);
    if (!match) return undefined;
    total += Number(match[1]) * units[match[2]!]!;
  }
  return parts.length ? total : undefined;
}

const START_LINE = /^\s*… (.+)$/;
const END_LINE = /^\s*[✔✖↷] (.+?) \(([^)]+)\)(?::.*)?$/;

/**
 * The steps a dr-drill process printed (printSteps: `… NAME` when a step starts,
 * `✔ NAME (1.2s): detail` when it ends), in order, with their printed durations and the
 * arrival times of both lines.
 */
export function parseCliSteps(lines: readonly TimedLine[]): CliStep[] {
  const starts = new Map<string, number>();
  const steps: CliStep[] = [];
  for (const line of lines) {
    const end = END_LINE.exec(line.text);
    if (end) {
      const printedMs = parseDurationText(end[2]!);
      if (printedMs === undefined) continue;
      steps.push({ name: end[1]!, printedMs, startedAtMs: starts.get(end[1]!), endedAtMs: line.atMs });
      continue;
    }
    const start = START_LINE.exec(line.text);
    if (start) starts.set(start[1]!, line.atMs);
  }
  return steps;
}

/** A slice of one process's wall time. */
export interface TimeSlice {
  name: string;
  ms: number;
}

/**
 * Cut a process's wall time at its steps: before the first step (start-up, configuration,
 * repository and storage checks), each step by its printed duration, the gaps between
 * steps, and after the last one until exit (closing checks, summary, shutdown). The slices
 * add up to the exit time.
 */
export function sliceCliRun(steps: readonly CliStep[], exitMs: number): TimeSlice[] {
  if (steps.length === 0) return [{ name: "whole process (no step lines)", ms: exitMs }];
  const slices: TimeSlice[] = [];
  let at = 0;
  for (const [i, step] of steps.entries()) {
    const began = step.startedAtMs ?? step.endedAtMs - step.printedMs;
    slices.push({ name: i === 0 ? "before the first step (start-up, config, storage check, pick backup)" : `between steps, before '${step.name}'`, ms: Math.max(0, began - at) });
    slices.push({ name: step.name, ms: step.endedAtMs - began });
    at = step.endedAtMs;
  }
  slices.push({ name: "after the last step (size query, fingerprint mark, summary, exit)", ms: Math.max(0, exitMs - at) });
  return slices.filter((s, i) => s.ms > 0 || i % 2 === 1);
}

/** Slice by slice median over iterations (names in the order they first appear; a slice missing from a run counts as 0 there). */
export function medianSlices(runs: readonly (readonly TimeSlice[])[]): TimeSlice[] {
  const names: string[] = [];
  for (const run of runs) for (const slice of run) if (!names.includes(slice.name)) names.push(slice.name);
  return names.map((name) => {
    const values = runs.map((run) => run.filter((s) => s.name === name).reduce((sum, s) => sum + s.ms, 0)).sort((a, b) => a - b);
    const mid = Math.floor(values.length / 2);
    return { name, ms: values.length % 2 ? values[mid]! : ((values[mid - 1] ?? 0) + (values[mid] ?? 0)) / 2 };
  });
}

/** Restore rate in GB (10^9 bytes) of database per minute. */
export function gbPerMinute(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e9 / (ms / 60_000) : Number.NaN;
}

const TASK_TITLE = "Back up postgres";
const STORED_IN = / stored in ([^,]+), /;

/**
 * The backup prints no step lines: listr's plain renderer prints `❯ Back up postgres` when
 * the task starts and `✔ Back up postgres` when it ends, then a summary whose `stored in
 * TIME` is the manifest's start-to-finish time of backupPostgres(). Cut at those: before the
 * task (start-up, config, repository, storage check), backupPostgres() itself, the rest of
 * the task (attempt record, source check, attempt outcome), after the task (summary, exit).
 */
export function sliceBackupRun(run: CliRun): TimeSlice[] {
  const titled = run.lines.filter((l) => l.text.includes(TASK_TITLE));
  const started = titled[0]?.atMs;
  const ended = titled.find((l) => /^\s*[✔✖]/.test(l.text))?.atMs;
  if (started === undefined || ended === undefined || titled.length < 2) return [{ name: "whole process (no task lines)", ms: run.exitMs }];
  const storedIn = run.lines.map((l) => STORED_IN.exec(l.text)?.[1]).find((t) => t !== undefined);
  const backupMs = storedIn === undefined ? undefined : parseDurationText(storedIn);
  const taskMs = ended - started;
  return [
    { name: "before the backup task (Node start-up, module loading, config, repository, storage check)", ms: started },
    ...(backupMs === undefined
      ? [{ name: "backup task", ms: taskMs }]
      : [
          { name: "backupPostgres() (the manifest's start to finish)", ms: Math.min(backupMs, taskMs) },
          { name: "rest of the backup task (attempt record, source check, pg_dump version, attempt outcome)", ms: Math.max(0, taskMs - backupMs) },
        ]),
    { name: "after the backup task (summary, close, exit)", ms: run.exitMs - ended },
  ];
}
