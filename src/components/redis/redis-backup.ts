import { createReadStream } from "node:fs";
import { copyFile, link, stat } from "node:fs/promises";
import { join } from "node:path";
import { REDIS_COMMAND_TIMEOUT_MS, connectRedis, describeRedis, explainTimeout, redisCliArgs, redisEnv } from "../../clients/index.ts";
import { DrError, messageOf } from "../../errors/index.ts";
import { findBinary, runCommand } from "../../exec/index.ts";
import { makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import { type BackupManifest, backupFolder, makeBackupId, writeManifest } from "../../manifest/index.ts";
import { type BackupContext, describeEncryption, encryptedSuffix } from "../backup-context.ts";
import { uploadPart } from "../upload-part.ts";
import { parseInfo, parseKeyspace } from "../../clients/redis-info.ts";
import { runBgsave, sampleTypes } from "./redis-snapshot.ts";

/** Check an RDB file with redis-check-rdb; a bad file is a DrError with the tool's verdict. */
export async function checkRdbFile(path: string): Promise<void> {
  try {
    await runCommand(findBinary("redis-check-rdb"), [path], { timeoutMs: 30 * 60_000 });
  } catch (error) {
    throw new DrError("INTEGRITY_FAILED", `unable to validate RDB file '${path}': redis-check-rdb rejected it: ${messageOf(error)}`, { cause: error });
  }
}

/** Take our own copy of the server's dump.rdb (a hard link when possible: instant, and a later save cannot change it). */
async function pinLocalRdb(serverFile: string, into: string): Promise<string> {
  const copy = join(into, "dump.rdb");
  try {
    await link(serverFile, copy);
  } catch {
    await copyFile(serverFile, copy);
  }
  return copy;
}

export interface RedisBackupOptions {
  /** Fail a Redis command unanswered for this long, ms (default 30 s). */
  commandTimeoutMs?: number;
  /** Kill `redis-cli --rdb` after this long, ms (default 1 h). */
  transferTimeoutMs?: number;
}

/**
 * Back up Redis: BGSAVE awaited correctly when the server's files are on this machine, or
 * `redis-cli --rdb` otherwise; the RDB is validated with redis-check-rdb, then streamed
 * through SHA-256 and encryption to storage. The manifest is written last. Every command
 * to the server is bounded (commandTimeoutMs), so a server that stops answering fails the
 * backup instead of hanging it.
 */
export async function backupRedis(ctx: BackupContext, options: RedisBackupOptions = {}): Promise<BackupManifest> {
  const now = ctx.now ?? (() => new Date());
  const started = now();
  const id = makeBackupId("redis", started);
  const source = describeRedis(ctx.redis);
  const commandTimeoutMs = options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS;
  const client = await connectRedis(ctx.redis, undefined, { commandTimeoutMs });
  const work = await makeTempDir("redis-backup");
  const key = `${backupFolder(id)}dump.rdb${encryptedSuffix(ctx.recipients)}`;
  let uploaded = false;
  try {
    const serverInfo = parseInfo(await client.info("server"));
    const serverVersion = serverInfo.get("redis_version") ?? "unknown";
    const { keys, expires } = parseKeyspace(await client.info("keyspace"));
    const types = await sampleTypes(client);

    const [, dir] = (await client.config("GET", "dir")) as [string, string];
    const [, dbfilename] = (await client.config("GET", "dbfilename")) as [string, string];
    const serverFile = join(dir, dbfilename);
    const local = ctx.redis.localDataDir !== undefined && (await stat(ctx.redis.localDataDir).catch(() => undefined)) !== undefined;

    let rdbFile: string;
    let lastSave: number;
    let method: "bgsave" | "redis-cli --rdb";
    if (local) {
      lastSave = await runBgsave(client);
      rdbFile = await pinLocalRdb(serverFile, work);
      method = "bgsave";
    } else {
      rdbFile = join(work, "dump.rdb");
      await runCommand(findBinary("redis-cli"), [...redisCliArgs(ctx.redis), "--rdb", rdbFile], {
        env: redisEnv(ctx.redis),
        timeoutMs: options.transferTimeoutMs ?? 60 * 60_000,
        signal: ctx.signal,
      });
      lastSave = Math.floor(Date.now() / 1000);
      method = "redis-cli --rdb";
    }
    await checkRdbFile(rdbFile);

    const part = await uploadPart({
      storage: ctx.storage,
      key,
      source: createReadStream(rdbFile),
      recipients: ctx.recipients,
      signal: ctx.signal,
      metadata: { "dr-drill-id": id, "backup-time": started.toISOString(), "redis-version": serverVersion },
      onProgress: (bytes) => ctx.onProgress?.("upload", bytes),
    });
    uploaded = true;
    const manifest: BackupManifest = {
      formatVersion: 1,
      id,
      component: "redis",
      source,
      startedAt: started.toISOString(),
      finishedAt: now().toISOString(),
      consistentAt: new Date(lastSave * 1000).toISOString(),
      format: "redis rdb",
      compression: "rdb (lzf)",
      parts: [part],
      storedBytes: part.size,
      encryption: describeEncryption(ctx.recipients),
      tools: { redis: serverVersion, node: process.versions.node },
      redis: { serverVersion, method, lastSave, keys, expires, types },
    };
    await writeManifest(ctx.storage, manifest);
    return manifest;
  } catch (error) {
    if (uploaded) await ctx.storage.delete(key).catch(() => undefined);
    if (error instanceof DrError) throw error;
    throw new DrError("BACKUP_FAILED", `unable to back up Redis '${source}': ${explainTimeout(messageOf(error), commandTimeoutMs)}`, { cause: error });
  } finally {
    client.disconnect();
    await removeTempDir(work);
  }
}
