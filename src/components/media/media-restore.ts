import { mkdir, readdir, utimes } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { DrError } from "../../errors/index.ts";
import { mapConcurrent } from "../../util/map-concurrent.ts";
import { downloadPartToFile, partOf, type BackupSource, type DownloadOptions } from "../download-part.ts";
import { readCheckedFileList } from "./media-lists.ts";
import type { SnapshotFile, SnapshotFileList } from "./media-snapshot.ts";

/** Download options for one media file: only its plain SHA-256 is recorded (contents are shared between snapshots). */
export function mediaFilePart(source: BackupSource, file: SnapshotFile): DownloadOptions {
  return { ...partOf(source, { key: file.key, size: -1, sha256: "", plainSize: file.size, plainSha256: file.sha256 }), checkStored: false };
}

export type MediaSource = BackupSource;

/** Read (download, verify, decrypt) a snapshot's file list, checked to be this snapshot's (media-lists.ts). */
export async function readSnapshotFileList(source: MediaSource): Promise<SnapshotFileList> {
  return await readCheckedFileList(source);
}

/** What a media restore wrote. */
export interface MediaRestoreResult {
  files: number;
  bytes: number;
}

/**
 * Recreate a snapshot's tree in `dir`: every file downloaded, decrypted, and checked
 * against the SHA-256 in the snapshot. The folder must be empty or absent (never overwrite).
 */
export async function restoreMedia(source: MediaSource, dir: string, concurrency = 8): Promise<MediaRestoreResult> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) {
    throw new DrError("RESTORE_REFUSED", `unable to restore media into '${dir}': the folder is not empty`, {
      hint: "choose an empty or new folder; dr-drill never overwrites files",
      exitCode: 2,
    });
  }
  const list = await readSnapshotFileList(source);
  const root = resolve(dir);
  let bytes = 0;
  await mapConcurrent(list.files, concurrency, async (file) => {
    const target = resolve(root, file.path);
    if (!target.startsWith(root + sep)) {
      throw new DrError("INTEGRITY_FAILED", `unable to restore media file '${file.path}': its path leaves the restore folder`);
    }
    await mkdir(dirname(target), { recursive: true });
    const result = await downloadPartToFile(mediaFilePart(source, file), target);
    await utimes(target, new Date(file.mtimeMs), new Date(file.mtimeMs));
    bytes += result.plainBytes;
  });
  return { files: list.files.length, bytes };
}

/** The path a restored file lands at (for checks). */
export function restoredPath(dir: string, relative: string): string {
  return join(dir, ...relative.split("/"));
}
