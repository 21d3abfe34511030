import type { Task } from "tinybench";
import type { BenchGroup, BenchTask } from "./bench-task.ts";

/** One task's measured numbers, as the report keeps them. */
export interface TaskSummary {
  id: string;
  name: string;
  group: BenchGroup;
  command: string;
  notes: string;
  /** Every timed iteration, ms, sorted ascending (tinybench's retained samples). */
  samplesMs: number[];
  meanMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Relative margin of error of the mean, percent (tinybench, 95 %). */
  rmePercent: number;
  /** Input bytes per iteration. */
  inputBytes: number;
  /** inputBytes / median time, MB/s (10^6 bytes). */
  throughputMBps: number;
  /** Facts each iteration recorded. */
  facts: Record<string, number>[];
}

/** Turn a finished tinybench task into a summary; an errored or unfinished task throws with its reason. */
export function summarizeTask(spec: BenchTask, task: Task): TaskSummary {
  const result = task.result;
  if (result.state === "errored") throw new Error(`unable to measure '${spec.name}': ${result.error.message}`, { cause: result.error });
  if (result.state !== "completed") throw new Error(`unable to measure '${spec.name}': the task ended as ${result.state}`);
  const { latency } = result;
  return {
    id: spec.id,
    name: spec.name,
    group: spec.group,
    command: spec.command,
    notes: spec.notes,
    samplesMs: [...(latency.samples ?? [])],
    meanMs: latency.mean,
    medianMs: latency.p50,
    minMs: latency.min,
    maxMs: latency.max,
    rmePercent: latency.rme,
    inputBytes: spec.inputBytes,
    throughputMBps: spec.inputBytes / 1e6 / (latency.p50 / 1000),
    facts: spec.facts,
  };
}
