import { chownSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { OsUser } from "../exec/index.ts";

/** The prefix of every temporary folder dr-drill makes (tests look for leftovers by it). */
export const TEMP_PREFIX = "dr-drill-";

/** Make a fresh temporary folder, owned by `owner` when given (for servers run as another user). */
export async function makeTempDir(label: string, owner?: OsUser): Promise<string> {
  const dir = await mkdtemp(join(process.env.DR_TMPDIR ?? tmpdir(), `${TEMP_PREFIX}${label}-`));
  if (owner && process.getuid?.() === 0) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/**
 * Remove a temporary folder and everything in it. Only folders this module made (named
 * with TEMP_PREFIX) are removed: a persistent workspace passed here by mistake survives.
 */
export async function removeTempDir(dir: string): Promise<void> {
  if (!basename(dir).startsWith(TEMP_PREFIX)) {
    throw new Error(`refusing to remove '${dir}': not a dr-drill temporary folder`);
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
