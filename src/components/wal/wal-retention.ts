import type { BackupManifest } from "../../manifest/index.ts";
import type { WalArchive } from "./wal-archive.ts";
import { parseWalFileName } from "./wal-names.ts";

/** What WAL retention would delete, and from where it keeps everything. */
export interface WalPrunePlan {
  /** Keys no kept base backup needs. */
  keys: string[];
  /** The oldest kept base backup's start segment: everything from here on is kept; undefined when nothing is pruned for lack of a base backup. */
  keepFrom: string | undefined;
}

/**
 * The WAL archive files no kept physical base backup can use: recovery from a base backup
 * reads only segments from its start segment on, so segments, partials and `.backup` files
 * numbered below the oldest kept backup's start segment (on any timeline) go. `.history`
 * files always stay (tiny, and recovery follows timelines through them). With no kept base
 * backup nothing is deleted: WAL without a base cannot be judged useless.
 */
export function planWalPrune(archive: WalArchive, keptBackups: readonly BackupManifest[]): WalPrunePlan {
  let oldest: { name: string; segment: bigint } | undefined;
  for (const manifest of keptBackups) {
    const facts = manifest.physical;
    if (!facts) continue;
    const start = parseWalFileName(facts.startWalFile, facts.walSegmentBytes);
    if (start?.segment === undefined) continue;
    if (!oldest || start.segment < oldest.segment) oldest = { name: facts.startWalFile, segment: start.segment };
  }
  if (!oldest) return { keys: [], keepFrom: undefined };
  const keys = archive.files.filter((f) => f.kind !== "history" && f.segment !== undefined && f.segment < oldest.segment).map((f) => f.key);
  return { keys, keepFrom: oldest.name };
}
