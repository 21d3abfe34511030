import type { ComponentName } from "../config/index.ts";
import { readRefsList } from "../components/media/media-lists.ts";
import { type BackupManifest, listCompleteBackups, writeManifest } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { mapConcurrent } from "../util/map-concurrent.ts";

/** What one copy did. */
export interface ReplicationResult {
  id: string;
  /** Objects copied, and their bytes. */
  copied: number;
  bytes: number;
  /** Objects the replica already had (media content shared with earlier snapshots). */
  present: number;
}

/** Copy one object as stored (same bytes, same user metadata): the replica's hashes stay the manifest's. */
async function copyObject(from: Storage, to: Storage, key: string): Promise<number> {
  const info = await from.stat(key);
  const { size } = await to.put(key, await from.get(key), { metadata: info?.metadata });
  return size;
}

/**
 * Copy one complete backup from the primary repository to the replica: its parts (for a
 * media snapshot, also every content object the replica lacks, each copied once), then
 * the manifest last, so a copy that fails midway never looks complete in the replica.
 */
export async function replicateBackup(primary: Storage, replica: Storage, manifest: BackupManifest, concurrency = 8): Promise<ReplicationResult> {
  const result: ReplicationResult = { id: manifest.id, copied: 0, bytes: 0, present: 0 };
  const keys = manifest.parts.map((p) => p.key);
  if (manifest.component === "media") {
    const have = new Set<string>();
    for await (const object of replica.list("media/objects/")) have.add(object.key);
    const refs = await readRefsList(primary, manifest);
    for (const key of refs) {
      if (have.has(key)) result.present += 1;
      else keys.push(key);
    }
  }
  await mapConcurrent(keys, concurrency, async (key) => {
    const existing = await replica.stat(key);
    const expected = manifest.parts.find((p) => p.key === key)?.size;
    // Parts and content objects never change once written: same size, already copied.
    if (existing && (expected === undefined || existing.size === expected)) {
      result.present += 1;
      return;
    }
    result.bytes += await copyObject(primary, replica, key);
    result.copied += 1;
  });
  await writeManifest(replica, manifest);
  result.copied += 1;
  return result;
}

/** How far a replica is behind: the primary's complete backups it does not have, newest last. */
export interface ReplicaLag {
  component: ComponentName;
  /** Complete in the primary, absent (or incomplete) in the replica, newer than the replica's newest. */
  missing: string[];
  /** The replica's newest complete backup, when it has one. */
  newestInReplica: BackupManifest | undefined;
}

/**
 * Compare a replica with its primary by backup id, however the copy was made (dr-drill's
 * own copy or S3 replication): a backup counts in the replica only once its manifest
 * reads as complete there.
 */
export async function measureReplicaLag(primary: Storage, replica: Storage, component: ComponentName): Promise<ReplicaLag> {
  const [inPrimary, inReplica] = await Promise.all([listCompleteBackups(primary, component), listCompleteBackups(replica, component)]);
  const have = new Set(inReplica.map((m) => m.id));
  const newestInReplica = inReplica.at(-1);
  const missing = inPrimary.filter((m) => !have.has(m.id) && (!newestInReplica || m.id > newestInReplica.id)).map((m) => m.id);
  return { component, missing, newestInReplica };
}
