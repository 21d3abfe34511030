import { PassThrough, addAbortSignal } from "node:stream";
import type { Readable } from "node:stream";

/**
 * Hand out `source` through a pass-through whose errors are translated by `translate`,
 * so a reader sees e.g. a DrError naming the object instead of a bare socket error.
 * Destroying the result (or aborting `signal`) destroys the source too, freeing its socket.
 * Nothing is buffered beyond the usual highWaterMark.
 */
export function translateStreamErrors(source: Readable, translate: (error: unknown) => Error, signal?: AbortSignal): Readable {
  const output = new PassThrough();
  source.on("error", (error) => output.destroy(translate(error)));
  output.on("close", () => {
    if (!source.readableEnded) source.destroy();
  });
  source.pipe(output);
  if (signal) addAbortSignal(signal, output);
  return output;
}
