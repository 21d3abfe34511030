import { setTimeout as sleep } from "node:timers/promises";
import { Bench } from "tinybench";
import type { BenchTask } from "./bench-task.ts";
import { type CpuSeconds, type CpuWatch, readCpuSeconds, subtractCpuSeconds } from "./cpu-usage.ts";
import { logStep } from "./log-step.ts";
import { flushDisks } from "./settle-machine.ts";
import { summarizeTask, type TaskSummary } from "./summarize-task.ts";

/** Time for PostgreSQL to reap a finished backend before its CPU is read (outside the timed window). */
const REAP_MS = 300;

/** The one latency sample of a task in a round, or the task's error. */
function readSample(bench: Bench, task: BenchTask): number {
  const timed = bench.getTask(task.name);
  const result = timed?.result;
  if (!result) throw new Error(`unable to find task '${task.name}' in the bench`);
  if (result.state === "errored") throw new Error(`unable to measure '${task.name}': ${result.error.message}`, { cause: result.error });
  if (result.state !== "completed") throw new Error(`unable to measure '${task.name}': it ended as ${result.state}`);
  const sample = result.latency.samples?.[0];
  if (sample === undefined) throw new Error(`unable to measure '${task.name}': no sample retained`);
  return sample;
}

/**
 * Time every task `rounds` times. Each round is one tinybench Bench over all tasks with one
 * iteration each (time budget 0, no warmup), so the tools take turns: a slow spell of this
 * shared machine lands on every tool of a round instead of on one tool's whole series.
 * Before each iteration (untimed): the task's own preparation, then `sync` of dirty pages;
 * CPU seconds of every side are read around the timed call.
 */
export async function runRounds(tasks: readonly BenchTask[], rounds: number, watch: CpuWatch): Promise<TaskSummary[]> {
  const samples = new Map<string, number[]>(tasks.map((t) => [t.id, []]));
  const cpu = new Map<string, CpuSeconds[]>(tasks.map((t) => [t.id, []]));
  for (const task of tasks) await task.setup?.();
  try {
    for (let round = 1; round <= rounds; round++) {
      const bench = new Bench({ name: `round ${round}`, iterations: 1, time: 0, warmup: false, throws: true, retainSamples: true });
      for (const task of tasks) {
        let before: CpuSeconds | undefined;
        bench.add(task.name, task.run, {
          // Said explicitly: otherwise tinybench calls a non-`async` function once, untimed and
          // unawaited, to find out whether it returns a promise (a second pg_dump running alongside).
          async: true,
          beforeEach: async () => {
            await task.beforeEach?.();
            await flushDisks();
            before = readCpuSeconds(watch);
          },
          afterEach: async () => {
            await sleep(REAP_MS);
            if (before) cpu.get(task.id)?.push(subtractCpuSeconds(readCpuSeconds(watch), before));
            await task.afterEach?.();
          },
        });
      }
      logStep(`round ${round}/${rounds}`);
      await bench.run();
      for (const task of tasks) {
        const sample = readSample(bench, task);
        samples.get(task.id)?.push(sample);
        logStep(`  ${task.name}: ${(sample / 1000).toFixed(2)} s`);
      }
    }
  } finally {
    for (const task of tasks) await task.teardown?.();
  }
  return tasks.map((task) => summarizeTask(task, samples.get(task.id) ?? [], cpu.get(task.id) ?? []));
}
