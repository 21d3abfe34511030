import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** What the last run knew of a file: when size, mtime and inode match, its hash is reused. */
export interface CachedFile {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

/**
 * A local speed-up only (like rclone's and restic's caches): correctness never depends on
 * it. A missing or unreadable cache just means every file is hashed again.
 */
export function mediaCachePath(mediaDir: string, storageLocation: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.DR_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "dr-drill");
  const id = createHash("sha256").update(`${mediaDir}\n${storageLocation}`).digest("hex").slice(0, 16);
  return join(base, `media-${id}.json`);
}

/** Read the cache; an absent or corrupt one is an empty map. */
export async function readMediaCache(path: string): Promise<Map<string, CachedFile>> {
  try {
    return new Map(Object.entries(JSON.parse(await readFile(path, "utf8")) as Record<string, CachedFile>));
  } catch {
    return new Map();
  }
}

/** Write the cache atomically. */
export async function writeMediaCache(path: string, cache: Map<string, CachedFile>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(Object.fromEntries(cache)));
  await rename(tmp, path);
}
