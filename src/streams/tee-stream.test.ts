import { PassThrough, Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { TeeStream } from "./tee-stream.ts";

/** A writable that keeps what it got. */
function collector(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

/** `count` chunks of 64 KiB, each filled with its index. */
function source(count: number): Readable {
  return Readable.from(Array.from({ length: count }, (_, i) => Buffer.alloc(64 * 1024, i % 256)));
}

describe("TeeStream", () => {
  it("copies every byte to both sinks, in order", async () => {
    const main = collector();
    const follower = collector();
    await pipeline(source(100), new TeeStream(main.sink, follower.sink, 1024 * 1024));
    expect(main.bytes().length).toBe(100 * 64 * 1024);
    expect(follower.bytes().equals(main.bytes())).toBe(true);
  });

  it("a follower still buffering when the tee finishes delivers everything (a finished tee does not destroy it)", async () => {
    const main = collector();
    const feed = new PassThrough({ highWaterMark: 16 * 1024 * 1024 });
    await pipeline(source(50), new TeeStream(main.sink, feed));
    // Read only now, after the tee finished: the bytes and the end must still come.
    const late = collector();
    await pipeline(feed, late.sink);
    expect(late.bytes().equals(main.bytes())).toBe(true);
    expect(late.bytes().length).toBe(50 * 64 * 1024);
  });

  it("a follower that stops reading early (closes) is dropped; the main sink still gets every byte", async () => {
    const main = collector();
    let taken = 0;
    const quitter = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, done) {
        taken += chunk.length;
        if (taken >= 10 * 64 * 1024) {
          this.destroy(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
          return;
        }
        done();
      },
    });
    quitter.on("error", () => undefined);
    await pipeline(source(200), new TeeStream(main.sink, quitter, 64 * 1024));
    expect(main.bytes().length).toBe(200 * 64 * 1024);
    expect(taken).toBe(10 * 64 * 1024);
  });

  it("a failing main sink fails the tee and tears the follower down", async () => {
    const follower = new PassThrough();
    const broken = new Writable({
      write(_chunk, _encoding, done) {
        done(Object.assign(new Error("no space left on device"), { code: "ENOSPC" }));
      },
    });
    await expect(pipeline(source(10), new TeeStream(broken, follower))).rejects.toThrow("no space left on device");
    expect(follower.destroyed).toBe(true);
  });
});
