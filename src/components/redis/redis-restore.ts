import { rmSync } from "node:fs";
import { link, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { connectRedis } from "../../clients/index.ts";
import { DrError, messageOf } from "../../errors/index.ts";
import { registerCleanup } from "../../lifecycle/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { RedisEndpoint } from "../../clients/endpoints.ts";
import { downloadPartToFile, partOf, type BackupSource } from "../download-part.ts";
import { assertFreeSpace } from "../local-disk.ts";
import { ensureRestoreFolder, removeCreatedFolders, withLeftBehind } from "../restore-folder.ts";
import { checkRdbFile } from "./redis-backup.ts";
import { parseKeyspace } from "../../clients/redis-info.ts";
import { sampleTypes, scanKeyBatches } from "./redis-snapshot.ts";

/** The refusal when the folder already holds a dump.rdb. */
function dumpExists(dir: string): DrError {
  return new DrError("RESTORE_REFUSED", `unable to restore Redis into '${dir}': it already holds a dump.rdb`, {
    hint: "move the existing file away or choose an empty folder; dr-drill never overwrites data",
    exitCode: 2,
  });
}

/** Give the checked partial file its final name without ever replacing a dump.rdb that appeared meanwhile. */
async function publishRdb(partial: string, file: string, dir: string): Promise<void> {
  try {
    await link(partial, file);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EEXIST") throw dumpExists(dir);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw error;
    // No hard links on this file system: a rename, after a last look (a small window remains).
    if ((await readdir(dir)).includes("dump.rdb")) throw dumpExists(dir);
    await rename(partial, file);
    return;
  }
  await rm(partial, { force: true });
}

/**
 * Write a Redis backup's RDB as `DIR/dump.rdb` (as the reference runbook does), verified by
 * SHA-256 and redis-check-rdb. Refuses to overwrite an existing dump.rdb. The download goes
 * to `dump.rdb.dr-drill-partial-PID` beside it and gets its name only once checked; a
 * failure (wrong key, corrupt object, full disk, a signal) removes that file and any folder
 * this call created, and the error says so, so a retry finds the folder as it was.
 */
export async function restoreRedisToDir(
  options: BackupSource,
  dir: string,
): Promise<{ file: string; bytes: number }> {
  const part = options.manifest.parts[0];
  if (!part) throw new DrError("INTEGRITY_FAILED", `unable to restore backup '${options.manifest.id}': its manifest lists no parts`);
  const created = await ensureRestoreFolder(dir, "Redis");
  if (!created && (await readdir(dir)).includes("dump.rdb")) throw dumpExists(dir);
  const file = join(dir, "dump.rdb");
  const partial = join(dir, `dump.rdb.dr-drill-partial-${process.pid}`);
  const removeOurs = async () => {
    await rm(partial, { force: true });
    return await removeCreatedFolders(created, dir);
  };
  const unregister = registerCleanup(async () => {
    await removeOurs();
  }, () => rmSync(partial, { force: true }));
  try {
    await assertFreeSpace(dir, part.plainSize, `Redis backup '${options.manifest.id}'`);
    const result = await downloadPartToFile({ ...partOf(options, part), decryptInChild: true }, partial);
    await checkRdbFile(partial);
    await publishRdb(partial, file, dir);
    return { file, bytes: result.plainBytes };
  } catch (error) {
    let note: string;
    try {
      const removed = await removeOurs();
      note = removed.length
        ? `Nothing of this restore was left behind: its partial file and the folder it created ('${removed.at(-1)}') were removed.`
        : `Nothing of this restore was left in '${dir}': its partial file was removed, the folder is as it was before.`;
    } catch (cleanupError) {
      note = `Left behind: '${partial}' could not be removed (${messageOf(cleanupError)}); remove it by hand.`;
    }
    throw withLeftBehind(error, "Redis", dir, note);
  } finally {
    unregister();
  }
}

/** A restored Redis compared with its manifest. */
export interface RedisComparison {
  ping: string;
  /** Keys per db: restored vs manifest. */
  keys: { restored: Record<string, number>; expected: Record<string, number> };
  expires: { restored: Record<string, number>; expected: Record<string, number> };
  types: { restored: Record<string, number>; expected: Record<string, number> };
  /** Volatile keys whose TTL passed between the snapshot and the load (dropped by Redis, as they should be). */
  expiredSinceBackup: number;
  /** Keys with a TTL whose TTL is still positive after load. */
  ttlsPositive: boolean;
  /** Every comparison matched. */
  matches: boolean;
}

/**
 * Keys with a TTL that passed between the snapshot and the load are dropped by Redis when
 * it loads the RDB: a backup restored hours after it was taken has fewer volatile keys, and
 * that is correct. So persistent keys (keys minus expires) must match exactly in every db,
 * and the volatile ones may only be fewer, with the missing keys all volatile and the type
 * census short by the same count. Returns how many expired, or undefined when anything else
 * differs.
 */
export function countExpiredSinceSnapshot(
  restored: { keys: Record<string, number>; expires: Record<string, number>; types: Record<string, number> },
  expected: { keys: Record<string, number>; expires: Record<string, number>; types: Record<string, number> },
): number | undefined {
  let expired = 0;
  for (const db of new Set([...Object.keys(restored.keys), ...Object.keys(expected.keys)])) {
    const [k, e] = [restored.keys[db] ?? 0, restored.expires[db] ?? 0];
    const [xk, xe] = [expected.keys[db] ?? 0, expected.expires[db] ?? 0];
    if (k - e !== xk - xe || e > xe) return undefined;
    expired += xe - e;
  }
  const census = Object.keys(expected.types).length > 0 || Object.keys(restored.types).length > 0;
  if (census) {
    // Each side counted keys (INFO) and types (a scan) a moment apart, and INFO still counts
    // keys that expired but were not reclaimed yet while a scan skips them: that much slack
    // is allowed, from the backup's census and from the restored server's.
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const slack = Math.abs(sum(expected.keys) - sum(expected.types));
    // Only ever fewer in the restored scan than in its INFO count: it widens the upper bound alone.
    const restoredSlack = Math.max(0, sum(restored.keys) - sum(restored.types));
    let short = 0;
    for (const type of new Set([...Object.keys(restored.types), ...Object.keys(expected.types)])) {
      const diff = (expected.types[type] ?? 0) - (restored.types[type] ?? 0);
      if (diff < 0) return undefined;
      short += diff;
    }
    if (short > expired + slack + restoredSlack || short < expired - slack) return undefined;
  }
  return expired;
}

/** Compare a scratch Redis loaded from the RDB with what the manifest recorded. */
export async function compareRedisWithManifest(endpoint: RedisEndpoint, manifest: BackupManifest): Promise<RedisComparison> {
  const facts = manifest.redis;
  if (!facts) throw new DrError("INTEGRITY_FAILED", `unable to compare backup '${manifest.id}': its manifest has no Redis facts`);
  const client = await connectRedis(endpoint);
  try {
    const ping = await client.ping();
    const { keys, expires } = parseKeyspace(await client.info("keyspace"));
    const types = await sampleTypes(client);
    let ttlsPositive = true;
    for await (const batch of scanKeyBatches(client, 20_000)) {
      const pipeline = client.pipeline();
      for (const key of batch) pipeline.pttl(key);
      for (const [, ttl] of (await pipeline.exec()) ?? []) {
        // -2: the key expired between SCAN and PTTL (Redis at work, not a restore fault).
        if (Number(ttl) === 0 || Number(ttl) < -2) ttlsPositive = false;
      }
    }
    const expired = countExpiredSinceSnapshot({ keys, expires, types }, facts);
    return {
      ping,
      keys: { restored: keys, expected: facts.keys },
      expires: { restored: expires, expected: facts.expires },
      types: { restored: types, expected: facts.types },
      ttlsPositive,
      expiredSinceBackup: expired ?? 0,
      matches: ping === "PONG" && expired !== undefined && ttlsPositive,
    };
  } finally {
    client.disconnect();
  }
}
