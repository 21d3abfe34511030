import { Listr, type ListrTask } from "listr2";
import { formatBytes, formatDuration } from "../config/index.ts";
import type { StepListener } from "../drill/step-recorder.ts";

/** A task for the progress display; `update` sets its live status line. */
export interface ProgressTask<C> {
  title: string;
  run: (ctx: C, update: (status: string) => void) => Promise<void>;
}

/**
 * Run tasks one after another with a live display on a terminal (listr2's default
 * renderer: spinner, status line, durations), and plain lines in CI and logs. Every task
 * runs even when an earlier one failed; the errors are returned.
 */
export async function runWithProgress<C extends object>(tasks: readonly ProgressTask<C>[], ctx: C): Promise<unknown[]> {
  const errors: unknown[] = [];
  const live = Boolean(process.stdout.isTTY) && !process.env.CI;
  const list = new Listr<C>(
    tasks.map((task): ListrTask<C> => ({
      title: task.title,
      task: async (c, listrTask) => {
        try {
          // Live status lines only on a terminal: in logs they would be one line per chunk.
          await task.run(c, (status) => {
            if (live) listrTask.output = status;
          });
        } catch (error) {
          errors.push(error);
          throw error;
        }
      },
      rendererOptions: { persistentOutput: false },
    })),
    {
      ctx,
      exitOnError: false,
      concurrent: false,
      // The live renderer on a terminal; listr2 falls back to plain lines when stdout is not a TTY.
      renderer: "default",
      fallbackRenderer: "simple",
      fallbackRendererCondition: () => !live,
      collectErrors: false,
    },
  );
  await list.run().catch(() => undefined);
  return errors;
}

/** A status line for bytes moved so far. */
export function bytesStatus(verb: string, bytes: number, startedMs: number): string {
  const seconds = (performance.now() - startedMs) / 1000;
  const rate = seconds > 0 ? ` (${formatBytes(bytes / seconds)}/s)` : "";
  return `${verb} ${formatBytes(bytes)}${rate}`;
}

/** Step listener printing one line per finished step (drill, restore) to stderr. */
export function printSteps(prefix = ""): StepListener {
  return ({ type, step }) => {
    if (type === "start") {
      process.stderr.write(`${prefix}… ${step.name}\n`);
      return;
    }
    const mark = step.status === "ok" ? "✔" : step.status === "skipped" ? "↷" : "✖";
    process.stderr.write(`${prefix}${mark} ${step.name} (${formatDuration(step.durationMs)})${step.detail ? `: ${step.detail}` : ""}\n`);
  };
}
