import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { connectRedis } from "../../clients/index.ts";
import { DrError } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { RedisEndpoint } from "../../targets/target.ts";
import { downloadPartToFile, partOf, type BackupSource } from "../download-part.ts";
import { checkRdbFile } from "./redis-backup.ts";
import { parseKeyspace, sampleTypes, scanKeyBatches } from "./redis-snapshot.ts";

/**
 * Write a Redis backup's RDB as `DIR/dump.rdb` (as the reference runbook does), verified by
 * SHA-256 and redis-check-rdb. Refuses to overwrite an existing dump.rdb.
 */
export async function restoreRedisToDir(
  options: BackupSource,
  dir: string,
): Promise<{ file: string; bytes: number }> {
  const part = options.manifest.parts[0];
  if (!part) throw new DrError("INTEGRITY_FAILED", `unable to restore backup '${options.manifest.id}': its manifest lists no parts`);
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).includes("dump.rdb")) {
    throw new DrError("RESTORE_REFUSED", `unable to restore Redis into '${dir}': it already holds a dump.rdb`, {
      hint: "move the existing file away or choose an empty folder; dr-drill never overwrites data",
      exitCode: 2,
    });
  }
  const file = join(dir, "dump.rdb");
  const result = await downloadPartToFile(partOf(options, part), file);
  await checkRdbFile(file);
  return { file, bytes: result.plainBytes };
}

/** A restored Redis compared with its manifest. */
export interface RedisComparison {
  ping: string;
  /** Keys per db: restored vs manifest. */
  keys: { restored: Record<string, number>; expected: Record<string, number> };
  expires: { restored: Record<string, number>; expected: Record<string, number> };
  types: { restored: Record<string, number>; expected: Record<string, number> };
  /** Keys with a TTL whose TTL is still positive after load. */
  ttlsPositive: boolean;
  /** Every comparison matched. */
  matches: boolean;
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
        if (Number(ttl) === 0 || Number(ttl) < -1) ttlsPositive = false;
      }
    }
    const same = (a: Record<string, number>, b: Record<string, number>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    return {
      ping,
      keys: { restored: keys, expected: facts.keys },
      expires: { restored: expires, expected: facts.expires },
      types: { restored: types, expected: facts.types },
      ttlsPositive,
      matches: ping === "PONG" && same(keys, facts.keys) && same(expires, facts.expires) && same(types, facts.types) && ttlsPositive,
    };
  } finally {
    client.disconnect();
  }
}
