import { formatBytes, formatDuration } from "../../config/index.ts";
import { applyRetention, planComponentRetention } from "../../components/index.ts";
import { abortStaleUploads, INCOMPLETE_UPLOAD_BOUND_MS, listBackupUploads } from "../../repository/index.ts";
import { readManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { pruneAttempts } from "../../status/index.ts";
import { say } from "../output.ts";
import { componentsToRead, openRepositorySession } from "../session.ts";

/**
 * WAL retention: archive files no kept base backup can use (below the oldest kept one's
 * start segment) go; with no base backup kept, nothing is judged useless.
 */
async function pruneWal(storage: Storage, keptIds: readonly string[], dryRun: boolean): Promise<void> {
  const { listWalArchive } = await import("../../components/wal/wal-archive.ts");
  const { planWalPrune } = await import("../../components/wal/wal-retention.ts");
  const archive = await listWalArchive(storage);
  if (archive.files.length === 0) return;
  const kept = [];
  for (const id of keptIds) kept.push(await readManifest(storage, id));
  const plan = planWalPrune(archive, kept);
  say(`wal: ${archive.files.length} files; ${plan.keepFrom ? `kept from ${plan.keepFrom} (the oldest kept base backup's start)` : "no kept base backup: all kept"}; ${dryRun ? "would delete" : "delete"} ${plan.keys.length}`);
  if (!dryRun && plan.keys.length) await storage.deleteMany(plan.keys);
}

/** `dr-drill prune [component] [--dry-run]`: apply retention from the repository alone; the newest good backup always stays. */
export async function pruneCommand(which: string | undefined, options: { target?: string; repo?: string; dryRun?: boolean }): Promise<number> {
  await using session = await openRepositorySession({ target: options.target, repo: options.repo });
  const { storage } = session.repository;
  await storage.check();
  for (const component of componentsToRead(session.config, which)) {
    const policy = session.config.schedule[component];
    // Only a dry run lists unreferenced media objects up front: applying finds them under the media lock.
    const plan = await planComponentRetention(storage, component, policy, new Date(), { previewOrphans: options.dryRun });
    say(`${component}: retention ${formatDuration(policy.retentionMs)}, keep ${plan.kept.length}, delete ${plan.deletions.length}${plan.orphanObjects.length ? ` (+${plan.orphanObjects.length} unreferenced media objects)` : ""}${plan.orphanNote ? ` — ${plan.orphanNote}` : ""}`);
    for (const d of plan.deletions) say(`  ${options.dryRun ? "would delete" : "delete"} ${d.id} (${formatBytes(d.bytes)}): ${d.reason}`);
    for (const h of plan.held) say(`  hold ${h.id} (${h.status}): ${h.reason}`);
    if (component === "postgres") await pruneWal(storage, plan.kept, Boolean(options.dryRun));
    if (!options.dryRun) {
      const { deletedObjects, deletedBytes, orphansDeleted, orphanNote } = await applyRetention(storage, plan);
      const attempts = await pruneAttempts(storage, component, policy.retentionMs);
      say(`  deleted ${deletedObjects} objects, ${formatBytes(deletedBytes)}${orphansDeleted ? ` (${orphansDeleted} of them unreferenced media objects)` : ""}${attempts ? `; ${attempts} attempt records older than the retention` : ""}`);
      if (orphanNote) say(`  ${orphanNote}`);
    }
  }
  // Uploads a killed backup left behind (SIGKILL, power loss): not objects, but billed.
  const aborted = options.dryRun ? await listBackupUploads(storage) : await abortStaleUploads(storage);
  if (aborted.notVerified !== undefined) say(`incomplete uploads: not verified (${aborted.notVerified})`);
  else {
    const old = options.dryRun ? aborted.uploads.filter((u) => u.ageMs >= INCOMPLETE_UPLOAD_BOUND_MS) : aborted.uploads;
    say(`incomplete uploads older than ${formatDuration(INCOMPLETE_UPLOAD_BOUND_MS)}: ${options.dryRun ? "would abort" : "aborted"} ${old.length}${old.length ? ` (${old.map((u) => u.key).slice(0, 5).join(", ")}${old.length > 5 ? ", …" : ""})` : ""}`);
  }
  return 0;
}
