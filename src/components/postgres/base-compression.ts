import type { Readable } from "node:stream";
import { constants as zlib, createZstdCompress, type ZstdCompress } from "node:zlib";
import { DrError, unable } from "../../errors/index.ts";
import { commandError, describeCommand, findBinary, startCommand } from "../../exec/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { type BackupSource, downloadPart, partOf } from "../download-part.ts";
import { brokenPipe } from "../local-disk.ts";
import { discardSink } from "../../streams/discard.ts";
import { startZstdCompressor, type ZstdCompressor, zstdDecompressIntoChild } from "./zstd-streams.ts";

/** The manifest's `compression` of a base backup stored as `base.tar.zst(.age)`. */
export const BASE_ZSTD = "zstd";
/** The file name of a base backup's tar stream inside its folder, as written today (before `.age`). */
export const BASE_TAR_ZST = "base.tar.zst";

/**
 * zstd level 1 with frame checksums, on the libuv threadpool: a base backup is mostly table
 * pages, which level 1 shrinks several-fold at hundreds of MB/s, so the encryption and the
 * upload handle a fraction of the bytes (bench/physical-compression.ts measured where to
 * compress). The checksum lets `zstd -d` and the restore catch a damaged frame on their own.
 * The in-process compressor: base backups use the stock `zstd` when it is installed (startBaseCompressor).
 */
export function createBaseCompressor(): ZstdCompress {
  return createZstdCompress({ params: { [zlib.ZSTD_c_compressionLevel]: 1, [zlib.ZSTD_c_checksumFlag]: 1 } });
}

/**
 * Compress a tar stream as a base backup is stored (level 1, XXH64 frame checksum): the
 * stock `zstd` beside this process when installed, createBaseCompressor otherwise
 * (startZstdCompressor). A 1.1 GB cluster's pg_basebackup -> compressor -> upload took
 * 14.2-16.0 s through the stock zstd against 16.2-18.1 s through node:zlib (this process's
 * CPU 7.2-8.5 s against 10.5-12.4 s), one run after the other.
 */
export function startBaseCompressor(source: Readable, signal?: AbortSignal): ZstdCompressor {
  return startZstdCompressor(source, 1, createBaseCompressor, signal);
}

/**
 * Refuse a base backup whose manifest names a compression this version cannot undo, before
 * anything is downloaded or written: base backups are `none` (taken before compression) or `zstd`.
 */
export function assertBaseCompression(manifest: BackupManifest, verb: string): void {
  if (manifest.compression === "none" || manifest.compression === BASE_ZSTD) return;
  throw new DrError("INTEGRITY_FAILED", unable(verb, manifest.id, `its manifest says compression '${manifest.compression}'; a base backup is 'none' or '${BASE_ZSTD}'`), {
    hint: "a newer dr-drill may have written it: restore with that version",
  });
}

/** What tar did with a base backup (readBaseIntoTar): its stdout, or why it failed. */
export type BaseTarOutcome = { ok: true; stdout: string } | { ok: false; error: DrError };

/**
 * Stream a base backup from the repository into `tar MODE -f -` (`-x -C DIR` to unpack, `-t`
 * to list): download -> stored SHA-256 -> age -> plain SHA-256 (downloadPart) -> tar's stdin,
 * with no temp copy of the archive; with `decryptInChild` (a restore), the stock `age -d`
 * decrypts into zstd's stdin itself (downloadPart says what is checked then). A `zstd` backup goes through the stock `zstd -d`, which
 * writes into tar's stdin itself (zstdDecompressIntoChild): the decompressed bytes, three
 * times the stored ones, never pass through this process and tar reads a plain pipe
 * (`restore postgres --physical` of a 1.1 GB cluster, 379 MB stored: 9.9 s with the tar
 * stream copied from zstd's stdout into tar's stdin here, 9.5 s with `tar --zstd`, which
 * copies stdin into its own zstd child 512 bytes a write, 7.8-8.5 s like this; this function
 * alone 7.5 s with `tar --zstd`, 6.6-6.7 s like this). Without the zstd binary, node:zlib
 * decompresses into tar's stdin. A failed download kills tar and throws as downloadPart
 * does; a tar or zstd that fails, e.g. on a damaged frame or a full disk, is the `error` of
 * the outcome, for the caller to word (tar's own, when tar stopped reading first).
 */
export async function readBaseIntoTar(source: BackupSource, mode: readonly string[], verb: string, options: { timeoutMs: number; decryptInChild?: boolean }): Promise<BaseTarOutcome> {
  const { manifest } = source;
  assertBaseCompression(manifest, verb);
  const tar = findBinary("tar");
  // 128 KiB records (-b 256), whole records from the pipe (-B): tar's default 10 KiB records
  // made ten times the reads and writes; `zstd -d | tar -x` of the 1.1 GB cluster's base backup
  // took 2.87-3.72 s with them against 1.96-2.42 s (system CPU 2.6-3.8 s against 1.5-2.2 s).
  const args = [...mode, "--blocking-factor=256", "--read-full-records", "-f", "-"];
  const child = startCommand(tar, args, { stdout: mode.includes("-t") ? "pipe" : "ignore", timeoutMs: options.timeoutMs, signal: source.signal });
  child.stdin!.on("error", () => undefined);
  const sink = manifest.compression === BASE_ZSTD ? zstdDecompressIntoChild(child.stdin!) : child.stdin!;
  const [downloaded, exited] = await Promise.allSettled([downloadPart({ ...partOf(source), decryptInChild: options.decryptInChild }, sink), child]);
  const result = exited.status === "fulfilled" ? exited.value : undefined;
  const tarError = () => commandError(describeCommand(tar, args), result ?? {}, String(result?.stderr ?? ""));
  if (downloaded.status === "rejected") {
    child.kill("SIGTERM");
    if (brokenPipe(downloaded.reason) && result) {
      // tar stopped reading (a full disk, a damaged archive): zstd's or our write then broke its pipe.
      if (result.failed) return { ok: false, error: tarError() };
      // tar found its end-of-archive and exited 0 before the bytes after it (a tar writer's
      // record padding) were written: nothing was lost, but the hashes were never compared,
      // so the part is read once more to its end (a discarded download, both SHA-256s checked).
      await downloadPart(partOf(source), discardSink());
      return { ok: true, stdout: String(result.stdout ?? "") };
    }
    throw downloaded.reason;
  }
  if (!result || result.failed) return { ok: false, error: tarError() };
  return { ok: true, stdout: String(result.stdout ?? "") };
}
