import { Writable } from "node:stream";

/**
 * A writable that copies every chunk into a main sink and a follower, waiting for both to
 * drain (the slower one sets the pace). The main sink is the one that counts: its error
 * fails the tee, and the tee finishes when the main sink has flushed. The follower is a
 * reader of the same bytes with a verdict of its own (a process reading its stdin, judged
 * by its exit code): when it errors or closes early (EPIPE: it read all it wanted), it is
 * dropped and the main sink goes on alone.
 */
export class TeeStream extends Writable {
  readonly #main: Writable;
  #follower: Writable | undefined;

  constructor(main: Writable, follower: Writable, highWaterMark = 4 * 1024 * 1024) {
    super({ highWaterMark });
    this.#main = main;
    this.#follower = follower;
    main.on("error", (error) => this.destroy(error));
    const drop = () => {
      const dropped = this.#follower;
      this.#follower = undefined;
      // Whoever waits for its drain must not wait forever.
      dropped?.emit("drain");
    };
    follower.on("error", drop);
    follower.on("close", drop);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    let pending = 1;
    const settle = () => {
      if (--pending === 0) done();
    };
    const follower = this.#follower;
    if (follower && !follower.writableEnded && !follower.destroyed) {
      pending += 1;
      if (follower.write(chunk)) settle();
      else follower.once("drain", settle);
    }
    if (this.#main.write(chunk)) settle();
    else this.#main.once("drain", settle);
  }

  override _final(done: (error?: Error | null) => void): void {
    const follower = this.#follower;
    if (follower && !follower.writableEnded && !follower.destroyed) follower.end();
    this.#main.end();
    this.#main.once("finish", () => done());
  }

  // Called after a normal finish too (autoDestroy): only a failure tears the sinks down, a
  // finished tee leaves the follower to deliver what it still buffers.
  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (error) {
      this.#follower?.destroy();
      this.#main.destroy();
    }
    done(error);
  }
}
