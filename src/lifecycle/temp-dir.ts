import { chownSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { registerCleanup } from "./cleanup-registry.ts";

/** Who should own a folder (an OS user's ids; lifecycle stays below exec, which defines the user). */
export interface FolderOwner {
  uid: number;
  gid: number;
}

/** The prefix of every temporary folder dr-drill makes (tests look for leftovers by it). */
export const TEMP_PREFIX = "dr-drill-";

/** Unregister functions of the folders made here and not removed yet. */
const owned = new Map<string, () => void>();

/** Every folder made here by this process. */
const made = new Set<string>();
let sweepInstalled = false;

/**
 * At process exit, remove every folder made here that exists: the registered cleanups
 * remove them on a signal, but the main flow keeps running while they do and can write
 * into a folder again after its removal (a mkdir -p of a path inside it).
 */
function sweepAtExit(): void {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // The process is going away; nothing else can be done.
    }
  }
}

/** The folder temporary folders go in: DR_TMPDIR, else TMPDIR (os.tmpdir()). */
export function tempRoot(): string {
  return process.env.DR_TMPDIR ?? tmpdir();
}

/**
 * Make a fresh temporary folder, owned by `owner` when given (for servers run as another
 * user). The folder is registered for removal the moment it exists, so a signal or a crash
 * at any later point never leaves it (and the plaintext dumps or keys in it) behind.
 */
export async function makeTempDir(label: string, owner?: FolderOwner): Promise<string> {
  const dir = await mkdtemp(join(tempRoot(), `${TEMP_PREFIX}${label}-`));
  made.add(dir);
  if (!sweepInstalled) {
    sweepInstalled = true;
    process.on("exit", sweepAtExit);
  }
  // No await between mkdtemp and this line: no signal handler can run in between.
  owned.set(dir, registerCleanup(
    async () => {
      owned.delete(dir);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
    () => rmSync(dir, { recursive: true, force: true }),
  ));
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
  owned.get(dir)?.();
  owned.delete(dir);
}
