/** One timed step of a drill or restore, as the report's step table shows it. */
export interface StepResult {
  /** Step name, e.g. "Create scratch database". */
  name: string;
  /** ms since epoch when it started. */
  startedAt: number;
  /** Wall time, ms. */
  durationMs: number;
  status: "ok" | "failed" | "skipped";
  /** One line of what happened (counts, sizes, the command), or the error. */
  detail: string;
  /** What a person types for this step (the runbook's line), when there is one. */
  command?: string;
}

/** Listener for live progress (terminal display). */
export type StepListener = (event: { type: "start" | "end"; step: StepResult }) => void;

/** Times steps in order; a failing step is recorded with its error, then the error propagates. */
export class StepRecorder {
  readonly steps: StepResult[] = [];
  readonly #listener: StepListener | undefined;

  constructor(listener?: StepListener) {
    this.#listener = listener;
  }

  /** Run fn as a named step; `describe` turns its result into the detail line. */
  async run<T>(name: string, fn: () => Promise<T>, describe?: (value: T) => string, command?: string): Promise<T> {
    const step: StepResult = { name, startedAt: Date.now(), durationMs: 0, status: "ok", detail: "", ...(command === undefined ? {} : { command }) };
    this.#listener?.({ type: "start", step });
    const started = performance.now();
    try {
      const value = await fn();
      step.durationMs = performance.now() - started;
      step.detail = describe?.(value) ?? "";
      return value;
    } catch (error) {
      step.durationMs = performance.now() - started;
      step.status = "failed";
      step.detail = error instanceof Error ? error.message.split("\n")[0]! : String(error);
      throw error;
    } finally {
      this.steps.push(step);
      this.#listener?.({ type: "end", step });
    }
  }

  /** Record a step that did not run, with the reason. */
  skip(name: string, reason: string, command?: string): void {
    const step: StepResult = { name, startedAt: Date.now(), durationMs: 0, status: "skipped", detail: reason, ...(command === undefined ? {} : { command }) };
    this.steps.push(step);
    this.#listener?.({ type: "end", step });
  }

  /** Total wall time of the recorded steps, ms. */
  totalMs(): number {
    return this.steps.reduce((sum, s) => sum + s.durationMs, 0);
  }
}
