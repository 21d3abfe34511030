import type { FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";

/**
 * A writer whose bytes end up in a file descriptor another process can write into directly:
 * a child's stdin (zstd feeding tar) or an open file. Another child (the stock `age -d`) can
 * then be given `childFd` as its stdout, so its output never passes through this process;
 * end() the writer, having written nothing, once that child exited, and the writer finishes
 * as it would have (after the reading child finished).
 */
export type ChildInput = Writable & { readonly childFd: number };

/** `writer`, naming the descriptor its bytes go to. */
export function withChildFd(writer: Writable, fd: number): ChildInput {
  return Object.assign(writer, { childFd: fd });
}

/** The descriptor a writer made by withChildFd names, or undefined for any other writer. */
export function childFdOf(writer: Writable): number | undefined {
  const fd = (writer as Partial<ChildInput>).childFd;
  return typeof fd === "number" ? fd : undefined;
}

/** A write stream into the open file `file` (a `highWaterMark` buffer) that names its descriptor, so the stock age can write the file itself. */
export function fileChildInput(file: FileHandle, highWaterMark: number): ChildInput {
  return withChildFd(file.createWriteStream({ highWaterMark }), file.fd);
}
