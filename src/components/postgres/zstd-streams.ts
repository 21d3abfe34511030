// zstd streams through the stock `zstd` binary when it is installed (its own process: the
// bytes it makes or unpacks need not pass through dr-drill), node:zlib's zstd otherwise.
import type { FileHandle } from "node:fs/promises";
import { type Readable, type Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createZstdDecompress } from "node:zlib";
import { childStdinFd, commandError, describeCommand, findOptionalBinary, startCommand } from "../../exec/index.ts";
import { gateOnCompletion } from "../../streams/exit-gate.ts";
import { withChildFd } from "../../streams/child-input.ts";
import { childWriteErrorCode } from "../local-disk.ts";

/** Output chunk of the in-process fallback: fewer, larger chunks than zlib's 16 KiB default. */
const ZSTD_CHUNK_BYTES = 256 * 1024;
/** Bounds a zstd child (or decompression) that stopped making progress; a 10 GB backup's or restore's takes minutes. */
const ZSTD_TIMEOUT_MS = 12 * 3_600_000;

/** The stock `zstd`, or undefined when it is not installed (the in-process decompressor is used then). */
export function findZstd(): string | undefined {
  return findOptionalBinary("zstd");
}

/**
 * A writer that feeds `input` (a decompressor, a child's stdin) and finishes only once
 * `finished` has resolved (the output is whole in its sink); `finished` rejecting (a damaged
 * frame, a full disk, zstd exiting non-zero) errors the writer, and destroying the writer
 * calls `stop`.
 */
function feedingWriter(input: Writable, finished: Promise<unknown>, highWaterMark: number, stop: (error: Error | null) => void): Writable {
  const writer = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      if (input.write(chunk)) callback();
      else input.once("drain", () => callback());
    },
    final(callback) {
      input.end();
      finished.then(() => callback(), callback);
    },
    destroy(error, callback) {
      stop(error);
      callback(error);
    },
  });
  finished.catch((error: unknown) => writer.destroy(error instanceof Error ? error : new Error(String(error))));
  return writer;
}

/**
 * Decompress in this process (libuv threadpool) into `sink`. Into a child's stdin
 * (`childStdin`), a reader that stopped before the end shows as a premature close of the sink
 * (Node destroys a child's stdin when the child exits): said as the broken pipe it is (code
 * EPIPE), as the stock zstd's own write would have found it.
 */
function throughNodeZlib(sink: Writable, childStdin = false): Writable {
  const decompressor = createZstdDecompress({ chunkSize: ZSTD_CHUNK_BYTES });
  const fed = pipeline(decompressor, sink).catch((error: unknown) => {
    if (!childStdin || (error as { code?: unknown }).code !== "ERR_STREAM_PREMATURE_CLOSE") throw error;
    throw Object.assign(new Error("the reading process closed its stdin before the end of the stream", { cause: error }), { code: "EPIPE" });
  });
  return feedingWriter(decompressor, fed, decompressor.writableHighWaterMark, (error) => decompressor.destroy(error ?? undefined));
}

/**
 * Where a zstd child's output goes: a stream this process copies into, a file descriptor
 * zstd writes itself, or another child's stdin that zstd shares (an OS pipe from one child
 * to the other; this process ends its own end of it once zstd exited, its only other writer).
 */
type ZstdOutput = { stream: Writable } | { fd: number } | { childStdin: Writable };

/**
 * Decompress through the stock `zstd -d` (a child process) into `out`; the writer finishes
 * once zstd exited 0 (and a copied stream finished). A damaged frame makes zstd exit
 * non-zero, which errors the writer with zstd's own message (a better report than the EPIPE
 * its stdin then gets, which is only observed); a failed write carries its errno code.
 */
function throughZstdCli(zstd: string, out: ZstdOutput): Writable {
  const args = ["-d", "-q", "-c"];
  const stdout = "fd" in out ? { stdout: out.fd } : "childStdin" in out ? { stdout: childStdinFd(out.childStdin) } : { streamStdout: true };
  const child = startCommand(zstd, args, { ...stdout, timeoutMs: ZSTD_TIMEOUT_MS });
  const stdin = child.stdin!;
  stdin.on("error", () => undefined);
  const exited = child.then((result) => {
    if (!result.failed) return;
    const stderr = String(result.stderr ?? "");
    const error = commandError(describeCommand(zstd, args), result, stderr);
    const code = childWriteErrorCode(result, stderr);
    // The errno code on an error of its own (the DrError's code is COMMAND_FAILED), for localWriteCode().
    throw code ? Object.assign(new Error(error.message, { cause: error }), { code }) : error;
  });
  // The reader sees the end of its input once zstd is gone, whatever way it went.
  // (Node destroys a child's stdin when that child exits: tar may stop at its end-of-archive blocks before zstd is done.)
  if ("childStdin" in out) exited.finally(() => out.childStdin.destroyed || out.childStdin.end()).catch(() => undefined);
  const finished = "stream" in out ? Promise.all([pipeline(child.stdout!, out.stream), exited]) : exited;
  // Room for a few of age's 64 KiB chunks while zstd works: the decryption runs ahead.
  const writer = feedingWriter(stdin, finished, 1024 * 1024, () => {
    child.kill("SIGTERM");
    stdin.destroy();
  });
  // Another child (the stock age decrypting) may write into zstd's stdin itself.
  return withChildFd(writer, childStdinFd(stdin));
}

/**
 * A writer of zstd bytes that puts the decompressed bytes into `sink` and finishes only once
 * `sink` has: through the stock `zstd -d` when it is installed, which decompressed 400 MB in
 * 0.2 s here where node:zlib's zstd took 1.8 s streamed and 3.2 s in one call (the same
 * level-1 frames, zstd 1.5 on both sides, timed one after the other); through node:zlib
 * when the binary is missing.
 */
export function zstdDecompressInto(sink: Writable): Writable {
  const zstd = findZstd();
  return zstd ? throughZstdCli(zstd, { stream: sink }) : throughNodeZlib(sink);
}

/**
 * A writer of zstd bytes whose decompressed bytes go into `childStdin`, the stdin of a child
 * process (tar): the stock `zstd -d` writes into it directly, so the child reads zstd's output
 * through an OS pipe and the decompressed bytes never pass through this process; the writer
 * finishes once zstd exited 0, and `childStdin` is ended then (zstd was its only other
 * writer, so the child sees the end of its input). GNU tar's own `--zstd` does the same with
 * a file, but reading stdin it copies the archive into its zstd child 512 bytes a write: the
 * 379 MB base backup of a 1.1 GB cluster unpacked in 4.5-4.6 s with `tar --zstd -x -f -`
 * against 2.8-3.5 s with `zstd -d | tar -x -f -`, from the same file. node:zlib into
 * `childStdin` without the binary.
 */
export function zstdDecompressIntoChild(childStdin: Writable): Writable {
  const zstd = findZstd();
  return zstd ? throughZstdCli(zstd, { childStdin }) : throughNodeZlib(childStdin, true);
}

/**
 * A writer of zstd bytes that decompresses them into the open file `file`: the stock `zstd -d`
 * writes the file itself (its stdout is the file), so the decompressed bytes, several times
 * the compressed ones, never pass through this process (a 673 MB archive: 0.9-1.1 s against
 * 1.6-2.4 s copied through a pipe, and 0.5-0.7 s of this process's CPU against 1.6-2.4 s);
 * node:zlib into the file, with a `highWaterMark` write buffer, when the binary is missing.
 * A write stream closes the handle when it finishes; the caller closes it otherwise (closing twice is harmless).
 */
export function zstdDecompressToFile(file: FileHandle, highWaterMark: number): Writable {
  const zstd = findZstd();
  return zstd ? throughZstdCli(zstd, { fd: file.fd }) : throughNodeZlib(file.createWriteStream({ highWaterMark }));
}

/** A compressor at work: its zstd frames, and a way to stop it. */
export interface ZstdCompressor {
  /** Ends only once the whole source was compressed; errors when the source or the compressor failed. */
  output: Readable;
  /** Stop it (a failed upload, a cancelled backup). */
  stop(): void;
}

/**
 * Compress `source` at `level` with an XXH64 checksum in every frame: the stock
 * `zstd -N --check` as a child process when it is installed, so the compression runs in its
 * own process and this one only passes the bytes on; `fallback()` (a node:zlib compressor
 * making the same frames) without the binary. A source that fails (pg_dump or pg_basebackup
 * cut off) or a zstd exiting non-zero errors the output instead of ending it: a short
 * archive never completes an upload.
 */
export function startZstdCompressor(source: Readable, level: number, fallback: () => Transform, signal?: AbortSignal): ZstdCompressor {
  const zstd = findZstd();
  if (!zstd) {
    const compressor = fallback();
    pipeline(source, compressor).catch(() => undefined);
    return { output: compressor, stop: () => compressor.destroy() };
  }
  const args = [`-${level}`, "--check", "-q", "-c"];
  const child = startCommand(zstd, args, { streamStdout: true, timeoutMs: ZSTD_TIMEOUT_MS, signal });
  child.stdin!.on("error", () => undefined);
  const exited = child.then((result) => {
    if (result.failed) throw commandError(describeCommand(zstd, args), result, String(result.stderr ?? ""));
  });
  const fed = pipeline(source, child.stdin!);
  const output = child.stdout!.pipe(gateOnCompletion(Promise.all([fed, exited])));
  child.stdout!.on("error", (error) => output.destroy(error));
  return {
    output,
    stop: () => {
      child.kill("SIGTERM");
      child.stdin!.destroy();
    },
  };
}
