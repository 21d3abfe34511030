import { Listr, type ListrTask } from "listr2";
import { formatBytes, formatDuration } from "../config/index.ts";
import type { StepListener } from "../measure/step-recorder.ts";

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

/**
 * The byte meter of one backup: `uploaded 1.20 GB of ~4.00 GB (30%), 85.1 MB/s, ETA 33s`
 * against `expected` (the previous backup of the same kind: a backup's size is known only
 * once it is done), bytes and rate alone without one. On a terminal it feeds the task's
 * status line (`update`); in logs, a line to stderr every 10 seconds (transferMeter).
 */
export function backupMeter(label: string, expected: number | undefined, update: (status: string) => void, stream: NodeJS.WriteStream = process.stderr): { update(bytes: number): void; done(): void } {
  const started = performance.now();
  const live = Boolean(process.stdout.isTTY) && !process.env.CI;
  const logged = live ? undefined : transferMeter(`${label}${expected ? ` (size estimated from the previous backup, ${formatBytes(expected)})` : ""}`, expected, stream);
  return {
    update: (bytes) => {
      if (live) update(`uploaded ${formatTransfer(bytes, expected, performance.now() - started, true)}`);
      logged?.update(bytes);
    },
    done: () => logged?.done(),
  };
}

/** The line a live meter keeps rewriting on a terminal, so other lines go above it instead of into it. */
const liveLines = new Map<NodeJS.WriteStream, string>();

/** Write whole lines to a stream; on a terminal with a live meter line, above that line (cleared, then drawn again). */
function writeAbove(stream: NodeJS.WriteStream, text: string): void {
  const live = liveLines.get(stream);
  stream.write(live === undefined ? text : `\r\u001b[K${text}${live}`);
}

/** Step listener printing one line when a step starts and one when it ends (drill, restore), to stderr. */
export function printSteps(prefix = "", stream: NodeJS.WriteStream = process.stderr): StepListener {
  return ({ type, step }) => {
    if (type === "start") {
      writeAbove(stream, `${prefix}… ${step.name}\n`);
      return;
    }
    const mark = step.status === "ok" ? "✔" : step.status === "skipped" ? "↷" : "✖";
    writeAbove(stream, `${prefix}${mark} ${step.name} (${formatDuration(step.durationMs)})${step.detail ? `: ${step.detail}` : ""}\n`);
  };
}

/** `1.2 GB of 4.0 GB (30%), 85.1 MB/s, ETA 33s` (`of ~4.0 GB` when the total is an estimate; total unknown: bytes and rate only). */
export function formatTransfer(bytes: number, total: number | undefined, elapsedMs: number, estimated = false): string {
  const rate = elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0;
  const head = total ? `${formatBytes(bytes)} of ${estimated ? "~" : ""}${formatBytes(total)} (${Math.min(100, Math.floor((bytes / total) * 100))}%)` : formatBytes(bytes);
  const eta = total && rate > 0 && bytes < total ? `, ETA ${formatDuration(((total - bytes) / rate) * 1000)}` : "";
  return `${head}, ${formatBytes(rate)}/s${eta}`;
}

/**
 * A byte counter for a long transfer: on a terminal one line rewritten in place at most
 * 4 times a second (step lines printed meanwhile go above it); in logs (not a TTY) a plain
 * line every 10 seconds, so a multi-GB restore shows it is alive without flooding cron
 * mail. `done()` ends the line.
 */
export function transferMeter(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr): { update(bytes: number): void; done(): void } {
  const started = performance.now();
  const live = Boolean(stream.isTTY) && !process.env.CI;
  const every = live ? 250 : 10_000;
  let last = started;
  let bytes = 0;
  let shown = false;
  return {
    update: (value) => {
      bytes = value;
      const now = performance.now();
      if (now - last < every) return;
      last = now;
      shown = true;
      const line = `${label}: ${formatTransfer(bytes, total, now - started)}`;
      if (live) liveLines.set(stream, line);
      stream.write(live ? `\r${line}\u001b[K` : `${line}\n`);
    },
    done: () => {
      if (live) liveLines.delete(stream);
      if (shown && live) stream.write(`\r${label}: ${formatTransfer(bytes, total, performance.now() - started)}\u001b[K\n`);
    },
  };
}
