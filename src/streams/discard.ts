import { Writable } from "node:stream";

/** A sink that drops every byte (what matters was computed upstream: hashes, sizes). */
export function discardSink(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
