import { rmSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { DrError, messageOf } from "../../errors/index.ts";
import { registerCleanup } from "../../lifecycle/index.ts";
import { mapConcurrent } from "../../util/map-concurrent.ts";
import { downloadPartToFile, partOf, type BackupSource, type DownloadOptions } from "../download-part.ts";
import { assertFreeSpace } from "../local-disk.ts";
import { ensureRestoreFolder, removeCreatedFolders, withLeftBehind } from "../restore-folder.ts";
import { readCheckedFileList } from "./media-lists.ts";
import type { SnapshotFile, SnapshotFileList } from "./media-snapshot.ts";

/** Download options for one media file: only its plain SHA-256 is recorded (contents are shared between snapshots). */
export function mediaFilePart(source: BackupSource, file: SnapshotFile): DownloadOptions {
  return { ...partOf({ ...source, onProgress: undefined }, { key: file.key, size: -1, sha256: "", plainSize: file.size, plainSha256: file.sha256 }), checkStored: false };
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

/** The refusal for a target folder that already has something in it. */
function notEmpty(dir: string): DrError {
  return new DrError("RESTORE_REFUSED", `unable to restore media into '${dir}': the folder is not empty`, {
    hint: "choose an empty or new folder; dr-drill never overwrites files",
    exitCode: 2,
  });
}

/** The mode of `dir` when it is an empty folder, undefined when absent; a file or a non-empty folder is refused. */
async function assertAbsentOrEmpty(dir: string): Promise<number | undefined> {
  const existing = await stat(dir).catch(() => undefined);
  if (!existing) return undefined;
  if (!existing.isDirectory()) {
    throw new DrError("RESTORE_REFUSED", `unable to restore media into '${dir}': it is a file, not a folder`, {
      hint: "give --into a new or empty folder; dr-drill never overwrites files",
      exitCode: 2,
    });
  }
  if ((await readdir(dir)).length > 0) throw notEmpty(dir);
  return existing.mode & 0o7777;
}

/**
 * Recreate a snapshot's tree in `dir`: every file downloaded, decrypted, and checked
 * against the SHA-256 in the snapshot. The folder must be empty or absent (never
 * overwrite). Files go to a partial folder beside it (same file system) that is renamed to
 * `dir` once every file checked out; a failure (S3 gone, wrong key, full disk, a signal)
 * removes the partial folder and any parent this call created, and the error says what was
 * left, so a retry finds `dir` as it was.
 */
export async function restoreMedia(source: MediaSource, dir: string, concurrency = 8): Promise<MediaRestoreResult> {
  const root = resolve(dir);
  // The restored folder gets the mode the empty target had, or a new folder's (mkdtemp makes 0700).
  const mode = (await assertAbsentOrEmpty(root)) ?? 0o777 & ~process.umask();
  const parent = dirname(root);
  const createdParent = await ensureRestoreFolder(parent, "media");
  let partial: string | undefined;
  const removeOurs = async () => {
    if (partial) await rm(partial, { recursive: true, force: true, maxRetries: 3 });
    return await removeCreatedFolders(createdParent, parent);
  };
  const unregister = registerCleanup(async () => {
    await removeOurs();
  }, () => {
    if (partial) rmSync(partial, { recursive: true, force: true });
  });
  let written = 0;
  try {
    partial = await mkdtemp(join(parent, `.${basename(root)}.dr-drill-partial-`));
    const list = await readSnapshotFileList(source);
    await assertFreeSpace(parent, list.files.reduce((sum, f) => sum + f.size, 0), `media snapshot '${source.manifest.id}'`);
    const work = partial;
    let bytes = 0;
    await mapConcurrent(list.files, concurrency, async (file) => {
      const target = resolve(work, file.path);
      if (!target.startsWith(work + sep)) {
        throw new DrError("INTEGRITY_FAILED", `unable to restore media file '${file.path}': its path leaves the restore folder`);
      }
      await mkdir(dirname(target), { recursive: true });
      const result = await downloadPartToFile(mediaFilePart(source, file), target);
      written += 1;
      await utimes(target, new Date(file.mtimeMs), new Date(file.mtimeMs));
      bytes += result.plainBytes;
    });
    await chmod(work, mode);
    // rename() replaces an empty folder and fails on a non-empty one: a folder someone
    // filled meanwhile is refused, never merged into.
    try {
      await rename(work, root);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") throw notEmpty(root);
      throw error;
    }
    partial = undefined;
    return { files: list.files.length, bytes };
  } catch (error) {
    let note: string;
    try {
      const removed = await removeOurs();
      note = `Nothing of this restore was left behind: the ${written} file${written === 1 ? "" : "s"} it had written (in ${partial ? `'${partial}'` : "its partial folder"}) ${removed.length ? `and the folder it created ('${removed.at(-1)}') ` : ""}were removed; '${root}' is as it was before.`;
    } catch (cleanupError) {
      note = `Left behind: the partial folder '${partial}' could not be removed (${messageOf(cleanupError)}); remove it by hand.`;
    }
    throw withLeftBehind(error, "media", root, note);
  } finally {
    unregister();
  }
}

/** The path a restored file lands at (for checks). */
export function restoredPath(dir: string, relative: string): string {
  return join(dir, ...relative.split("/"));
}
