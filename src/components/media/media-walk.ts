import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ExcludeMatcher } from "./media-exclude.ts";

/** A file found under the media root. */
export interface MediaFile {
  /** Path relative to the root, `/`-separated. */
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** What a walk found. */
export interface MediaWalk {
  files: MediaFile[];
  /** Files and folders skipped by the excludes (a folder counts once). */
  excluded: number;
  /** Entries that vanished between listing and stat. */
  vanished: string[];
}

/** List every regular file under root (symlinks are not followed), sorted by path. */
export async function walkMedia(root: string, excludes: ExcludeMatcher): Promise<MediaWalk> {
  const result: MediaWalk = { files: [], excluded: 0, vanished: [] };
  const visit = async (relDir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(root, relDir), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && relDir) {
        result.vanished.push(`${relDir}/`);
        return;
      }
      throw error;
    }
    const subdirs: string[] = [];
    await Promise.all(
      entries.map(async (entry) => {
        const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (excludes.excludesDir(rel)) result.excluded += 1;
          else subdirs.push(rel);
          return;
        }
        if (!entry.isFile()) return;
        if (excludes.excludesFile(rel)) {
          result.excluded += 1;
          return;
        }
        try {
          const st = await lstat(join(root, rel));
          result.files.push({ path: rel, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
        } catch {
          result.vanished.push(rel);
        }
      }),
    );
    for (const dir of subdirs) await visit(dir);
  };
  await visit("");
  result.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return result;
}
