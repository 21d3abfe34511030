import { setTimeout as sleep } from "node:timers/promises";

/**
 * Poll `probe` until it returns a value (not undefined) or time runs out; the last error
 * is returned in the rejection so the caller can say why.
 */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined>,
  options: {
    timeoutMs: number;
    /** First pause between probes (default 25 ms); each next one is 1.5 times longer, up to maxIntervalMs. */
    intervalMs?: number;
    /** Longest pause (default 250 ms); equal to intervalMs for a steady pace. */
    maxIntervalMs?: number;
    signal?: AbortSignal;
    abortIf?: () => string | undefined;
  },
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError: unknown;
  let interval = options.intervalMs ?? 25;
  for (;;) {
    options.signal?.throwIfAborted();
    const abortReason = options.abortIf?.();
    if (abortReason) throw new Error(abortReason);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      const reason = lastError instanceof Error ? lastError.message : "condition not met";
      throw new Error(`timed out after ${options.timeoutMs} ms (${reason})`, { cause: lastError });
    }
    await sleep(interval);
    interval = Math.min(interval * 1.5, options.maxIntervalMs ?? 250);
  }
}
