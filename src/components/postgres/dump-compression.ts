import type { FileHandle } from "node:fs/promises";
import type { Readable, Transform, Writable } from "node:stream";
import { constants, createZstdCompress } from "node:zlib";
import { DrError } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { fileChildInput } from "../../streams/child-input.ts";
import { startZstdCompressor, type ZstdCompressor, zstdDecompressInto, zstdDecompressToFile } from "./zstd-streams.ts";

/**
 * How a logical dump is compressed before encryption. `pg_dump`: pg_dump's own gzip
 * (`--compress=N`), inside the custom archive, so pg_restore reads the stored plain bytes
 * as they are. `zstd`: pg_dump writes an uncompressed archive (`--compress=0`) and this
 * process wraps it in one zstd stream on the libuv threadpool, beside pg_dump's core
 * instead of inside it; the plain bytes are then a `.zst` of the archive
 * (`age -d -i KEY < dump.age | zstd -d | pg_restore ...`).
 */
export type DumpCompression = { method: "pg_dump"; level: number } | { method: "zstd"; level: number };

/** The methods a configuration may name. */
export type DumpCompressionMethod = DumpCompression["method"];

/** Output chunk of the zstd streams: fewer, larger chunks through the hash and age transforms than zlib's 16 KiB default. */
const ZSTD_CHUNK_BYTES = 256 * 1024;

/**
 * The compression a backup uses, from the configuration: the level (DR_PG_COMPRESSION,
 * postgres.compressionLevel) and the method when the configuration has one. Level 0 is no
 * compression at all, whatever the method. Without a method, pg_dump's own (-Z N): every
 * reader of older dr-drill versions and the plain `age -d | pg_restore` keep working.
 */
export function chooseDumpCompression(postgres: { compressionLevel: number; compressionMethod?: DumpCompressionMethod }): DumpCompression {
  const level = postgres.compressionLevel;
  if (level === 0 || postgres.compressionMethod !== "zstd") return { method: "pg_dump", level };
  return { method: "zstd", level };
}

/** pg_dump's --compress level for this compression (0 when zstd compresses outside pg_dump). */
export function pgDumpLevel(compression: DumpCompression): number {
  return compression.method === "zstd" ? 0 : compression.level;
}

/** The manifest's `compression` text: `pg_dump -Z 1`, `zstd -1 over pg_dump -Z 0`; readDumpCompression() parses it back. */
export function describeDumpCompression(compression: DumpCompression): string {
  return compression.method === "zstd" ? `zstd -${compression.level} over pg_dump -Z 0` : `pg_dump -Z ${compression.level}`;
}

/**
 * The compression a backup's manifest records. Older manifests say `pg_dump -Z N`. Text
 * this version does not know (a newer dr-drill's method) is an error, never a guess: feeding
 * pg_restore bytes it cannot read would only fail later with a less useful message.
 */
export function readDumpCompression(manifest: Pick<BackupManifest, "id" | "compression">): DumpCompression {
  const text = manifest.compression;
  const gzip = /^pg_dump -Z ?(\d)$/.exec(text);
  if (gzip) return { method: "pg_dump", level: Number(gzip[1]) };
  const zstd = /^zstd -(\d+) over pg_dump -Z ?0$/.exec(text);
  if (zstd) return { method: "zstd", level: Number(zstd[1]) };
  throw new DrError("RESTORE_FAILED", `unable to read backup '${manifest.id}': its manifest records compression '${text}', which this version of dr-drill cannot undo`, {
    hint: "restore it with the dr-drill version that wrote it (its manifest's tools), or by hand: age -d -i KEY < dump.age, then undo that compression, then pg_restore",
  });
}

/** The transform that compresses pg_dump's output for this backup, or undefined when pg_dump does it (or nothing does). */
export function dumpCompressor(compression: DumpCompression): Transform | undefined {
  if (compression.method !== "zstd") return undefined;
  return createZstdCompress({
    chunkSize: ZSTD_CHUNK_BYTES,
    params: {
      [constants.ZSTD_c_compressionLevel]: compression.level,
      // A frame checksum, so the stock `zstd -d` of a hand restore detects damage too.
      [constants.ZSTD_c_checksumFlag]: 1,
    },
  });
}

/**
 * Compress pg_dump's output for this backup, or undefined when pg_dump does it (or nothing
 * does): the stock `zstd -N --check` beside this process when installed, dumpCompressor's
 * node:zlib frames otherwise (startZstdCompressor). `dr-drill backup postgres` of the 1 GB
 * fixture (a 673 MB archive) took 16.5-18.1 s (median 17.1) with the stock zstd against
 * 17.0-19.5 s (median 18.5) through node:zlib, three pairs one after the other.
 */
export function startDumpCompressor(compression: DumpCompression, source: Readable, signal?: AbortSignal): ZstdCompressor | undefined {
  if (compression.method !== "zstd") return undefined;
  return startZstdCompressor(source, compression.level, () => dumpCompressor(compression)!, signal);
}

/**
 * `sink` as the writer of a backup's decrypted bytes: the sink itself for a `pg_dump -Z N`
 * backup, otherwise a writer that decompresses into it (the stock `zstd -d` when installed,
 * zstdDecompressInto) and finishes when the sink has finished.
 */
export function dumpSink(manifest: Pick<BackupManifest, "id" | "compression">, sink: Writable): Writable {
  return readDumpCompression(manifest).method === "zstd" ? zstdDecompressInto(sink) : sink;
}

/**
 * The writer of a backup's decrypted bytes into the open file `file` (the restore's archive
 * for pg_restore): a write stream with a `highWaterMark` buffer for a `pg_dump -Z N` backup
 * (naming the file's descriptor, so the stock age can write it itself: fileChildInput),
 * otherwise zstd writing the file itself (zstdDecompressToFile). The caller closes the handle
 * (a write stream has closed it already; closing twice is harmless).
 */
export function dumpFileSink(manifest: Pick<BackupManifest, "id" | "compression">, file: FileHandle, highWaterMark: number): Writable {
  return readDumpCompression(manifest).method === "zstd" ? zstdDecompressToFile(file, highWaterMark) : fileChildInput(file, highWaterMark);
}
