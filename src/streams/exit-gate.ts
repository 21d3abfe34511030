import { Transform, type TransformCallback } from "node:stream";

/**
 * A pass-through whose end waits for `done` (a producer process's exit): when the producer
 * fails, the stream errors instead of ending, so a partial dump can never complete an
 * upload. The output of `pg_dump` killed midway ends "normally" on stdout; this is the guard.
 */
export function gateOnCompletion(done: Promise<unknown>): Transform {
  // Observe early so an early rejection is not reported as unhandled.
  const outcome = done.then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      void outcome.then((error) => callback(error));
    },
  });
}
