import type { Writable } from "node:stream";
import { constants as zlib, createZstdCompress, type ZstdCompress } from "node:zlib";
import { DrError, unable } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { zstdDecompressInto } from "./zstd-decompress.ts";

/** The manifest's `compression` of a base backup stored as `base.tar.zst(.age)`. */
export const BASE_ZSTD = "zstd";
/** The file name of a base backup's tar stream inside its folder, as written today (before `.age`). */
export const BASE_TAR_ZST = "base.tar.zst";

/**
 * zstd level 1 with frame checksums, on the libuv threadpool: a base backup is mostly table
 * pages, which level 1 shrinks several-fold at hundreds of MB/s, so the encryption and the
 * upload handle a fraction of the bytes (bench/physical-compression.ts measured where to
 * compress). The checksum lets `zstd -d` and the restore catch a damaged frame on their own.
 */
export function createBaseCompressor(): ZstdCompress {
  return createZstdCompress({ params: { [zlib.ZSTD_c_compressionLevel]: 1, [zlib.ZSTD_c_checksumFlag]: 1 } });
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

/**
 * Where a base backup's plain (decrypted) bytes go so that `tar` reads a tar stream: straight
 * to it for `none`, through the stock `zstd -d` (zstdDecompressInto; node:zlib without it) for
 * `zstd`, with no temp copy of the archive. The writer finishes once tar's input has ended;
 * the caller then waits for tar to exit. A damaged frame fails the download.
 */
export function makeBaseTarSink(manifest: BackupManifest, tarInput: Writable, verb: string): Writable {
  assertBaseCompression(manifest, verb);
  if (manifest.compression !== BASE_ZSTD) return tarInput;
  return zstdDecompressInto(tarInput);
}
