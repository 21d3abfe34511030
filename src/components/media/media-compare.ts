import { createReadStream } from "node:fs";
import { join } from "node:path";
import { hashStream } from "../../streams/hash-stream.ts";
import { makeExcludeMatcher } from "./media-exclude.ts";
import { walkMedia } from "./media-walk.ts";

/** Compare two trees file by file (paths and SHA-256), the source filtered by the excludes. */
export async function compareTrees(source: string, restored: string, excludes: readonly string[]): Promise<{ same: boolean; detail: string }> {
  const [a, b] = await Promise.all([walkMedia(source, makeExcludeMatcher(excludes)), walkMedia(restored, makeExcludeMatcher([]))]);
  const pathsA = new Set(a.files.map((f) => f.path));
  const pathsB = new Set(b.files.map((f) => f.path));
  const missing = [...pathsA].filter((p) => !pathsB.has(p));
  const extra = [...pathsB].filter((p) => !pathsA.has(p));
  let different = 0;
  for (const file of a.files) {
    if (!pathsB.has(file.path)) continue;
    const [ha, hb] = await Promise.all([hashStream(createReadStream(join(source, file.path))), hashStream(createReadStream(join(restored, file.path)))]);
    if (ha.sha256 !== hb.sha256) different += 1;
  }
  const same = missing.length === 0 && extra.length === 0 && different === 0;
  return {
    same,
    detail: same
      ? `${pathsA.size} files identical to the source (${a.excluded} excluded entries not backed up)`
      : `${missing.length} missing, ${extra.length} unexpected, ${different} different (source changed since the snapshot, or restore fault)`,
  };
}
