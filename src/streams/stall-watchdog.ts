/**
 * Abort work that stops making progress: `touch()` on every sign of progress; when none
 * comes for `timeoutMs`, `signal` aborts with the error `onStall` built. A frozen endpoint
 * answers nothing until each request's own timeout (and its retries) runs out, which for
 * an upload meant 24 minutes; this bounds the whole stall instead of each request.
 */
export class StallWatchdog implements Disposable {
  readonly timeoutMs: number;
  readonly #controller = new AbortController();
  readonly #makeError: (idleMs: number) => Error;
  #last = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, makeError: (idleMs: number) => Error) {
    this.timeoutMs = timeoutMs;
    this.#makeError = makeError;
    this.#arm(timeoutMs);
  }

  /** Aborted (with the stall error as reason) once nothing progressed for timeoutMs. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once it fired. */
  get stalled(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Something progressed: start the quiet period again. */
  touch(): void {
    this.#last = performance.now();
  }

  /** Stop watching (the work finished or failed on its own). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  // One timer re-armed for the rest of the quiet period, not one per touch.
  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => {
      const idle = performance.now() - this.#last;
      if (idle >= this.timeoutMs) this.#controller.abort(this.#makeError(idle));
      else this.#arm(this.timeoutMs - idle);
    }, delayMs);
    this.#timer.unref();
  }
}
