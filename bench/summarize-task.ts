import type { BenchGroup, BenchTask } from "./bench-task.ts";
import type { CpuSeconds } from "./cpu-usage.ts";

/** One task's measured numbers, as the report keeps them. */
export interface TaskSummary {
  id: string;
  name: string;
  group: BenchGroup;
  command: string;
  notes: string;
  /** Every timed iteration (tinybench latency), ms, in round order. */
  samplesMs: number[];
  meanMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Sample standard deviation, ms (0 with one sample). */
  sdMs: number;
  /** Input bytes per iteration. */
  inputBytes: number;
  /** inputBytes / median time, MB/s (10^6 bytes). */
  throughputMBps: number;
  /** CPU seconds of each side in every iteration, in round order. */
  cpu: CpuSeconds[];
  /** Median CPU seconds of each side. */
  medianCpu: CpuSeconds;
  /** Facts each iteration recorded. */
  facts: Record<string, number>[];
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Field-by-field median of CPU readings. */
function medianCpu(readings: readonly CpuSeconds[]): CpuSeconds {
  const of = (pick: (c: CpuSeconds) => number) => (readings.length ? median(readings.map(pick)) : 0);
  return { bench: of((c) => c.bench), tools: of((c) => c.tools), s3: of((c) => c.s3), postgres: of((c) => c.postgres) };
}

/** Statistics of a task's samples; a task without samples throws (it did not run). */
export function summarizeTask(spec: BenchTask, samplesMs: readonly number[], cpu: readonly CpuSeconds[]): TaskSummary {
  if (samplesMs.length === 0) throw new Error(`unable to summarize task '${spec.name}': it has no timed iteration`);
  const mean = samplesMs.reduce((sum, x) => sum + x, 0) / samplesMs.length;
  const variance = samplesMs.length > 1 ? samplesMs.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (samplesMs.length - 1) : 0;
  const mid = median(samplesMs);
  return {
    id: spec.id,
    name: spec.name,
    group: spec.group,
    command: spec.command,
    notes: spec.notes,
    samplesMs: [...samplesMs],
    meanMs: mean,
    medianMs: mid,
    minMs: Math.min(...samplesMs),
    maxMs: Math.max(...samplesMs),
    sdMs: Math.sqrt(variance),
    inputBytes: spec.inputBytes,
    throughputMBps: spec.inputBytes / 1e6 / (mid / 1000),
    cpu: [...cpu],
    medianCpu: medianCpu(cpu),
    facts: spec.facts,
  };
}
