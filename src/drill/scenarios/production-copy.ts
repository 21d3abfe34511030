import { createHash } from "node:crypto";
import { copyFile, cp } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectPostgres, connectRedis, redisCliArgs, redisEnv } from "../../clients/index.ts";
import { findBinary, runCommand } from "../../exec/index.ts";
import type { PostgresEndpoint, RedisEndpoint } from "../../clients/endpoints.ts";
import { formatDuration, type ComponentName } from "../../config/index.ts";
import { runBgsave, scanKeyBatches } from "../../components/index.ts";
import { type BackupManifest, listCompleteBackups, listCompleteDumps } from "../../manifest/index.ts";
import type { Check } from "../../measure/verdict.ts";
import type { Storage } from "../../storage/storage.ts";
import type { StagePostgres, StageRedis } from "../../targets/index.ts";
import { startHeartbeatWriter, type HeartbeatWriter } from "../heartbeat-writer.ts";
import { runSmokeChecks } from "../smoke-checks.ts";
import type { PathVerification, ScenarioContext } from "./scenario.ts";

/** How long the application writes to a fresh copy before the fault (data the backups do not have). */
const WRITES_BEFORE_FAULT_MS = 1000;

/** A copy of the source PostgreSQL with the application (the heartbeat writer) writing to it. */
export interface ProductionPostgres {
  server: StagePostgres;
  app: HeartbeatWriter;
}

/**
 * Copy the source PostgreSQL into the stage (pg_basebackup) and start the application on
 * the copy. The heartbeats already in it from after the newest backup count as the
 * application's: a recovery that loses them has lost them.
 */
export async function copyProductionPostgres(ctx: ScenarioContext, label: string): Promise<ProductionPostgres> {
  const server = await ctx.stage.copyPostgres(ctx.source.postgres, { label });
  const since = ctx.newest.postgres ? new Date(Date.parse(ctx.newest.postgres.consistentAt) - 60_000) : new Date(0);
  const client = await connectPostgres(server.endpoint);
  let known: Date[];
  try {
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('dr_heartbeat')::text AS t");
    known = exists.rows[0]?.t ? (await client.query<{ at: Date }>("SELECT written_at AS at FROM dr_heartbeat WHERE written_at > $1 ORDER BY written_at", [since])).rows.map((r) => r.at) : [];
  } finally {
    await client.end();
  }
  const app = await startHeartbeatWriter(server.endpoint, { reconnect: true, known });
  await sleep(WRITES_BEFORE_FAULT_MS);
  return { server, app };
}

/** The newest complete pg_dump backup in a repository (what `dr-drill restore postgres --latest` takes). */
export async function newestDump(storage: Storage): Promise<BackupManifest> {
  const newest = (await listCompleteDumps(storage, "postgres")).at(-1);
  if (!newest) throw new Error("there are no complete PostgreSQL backups in the repository");
  return newest;
}

/** The newest complete backup of Redis or media in a repository. */
export async function newestBackup(storage: Storage, component: Exclude<ComponentName, "postgres">): Promise<BackupManifest> {
  const newest = (await listCompleteBackups(storage, component)).at(-1);
  if (!newest) throw new Error(`there are no complete ${component} backups in the repository`);
  return newest;
}

/** Newest heartbeat at or before `at` in a database. */
async function newestHeartbeatBefore(endpoint: PostgresEndpoint, at: Date): Promise<Date | undefined> {
  const client = await connectPostgres(endpoint);
  try {
    const { rows } = await client.query<{ at: Date | null }>("SELECT max(written_at) AS at FROM dr_heartbeat WHERE written_at <= $1", [at]);
    return rows[0]?.at ?? undefined;
  } finally {
    await client.end();
  }
}

/**
 * The data a recovery lost, from the application's own log: the heartbeats it committed
 * before it was cut off (`cutOff`, default the declared failure) that the recovered
 * database does not have. The RPO is the span of those lost writes.
 */
export async function measureHeartbeatLoss(app: HeartbeatWriter, recovered: PostgresEndpoint, failureAt: Date, cutOff = failureAt): Promise<Pick<PathVerification, "rpoMs" | "rpoBasis" | "lostRows">> {
  const newest = await newestHeartbeatBefore(recovered, cutOff);
  if (!newest) return { rpoMs: undefined, rpoBasis: "no heartbeat in the recovered database" };
  const lost = app.committed.filter((at) => at.getTime() > newest.getTime() && at.getTime() <= cutOff.getTime());
  const lastLost = lost.at(-1);
  return {
    rpoMs: lastLost ? lastLost.getTime() - newest.getTime() : 0,
    rpoBasis: `heartbeats lost: ${lost.length} written after ${newest.toISOString()} (the newest recovered) are not in the recovered database`,
    lostRows: lost.length,
  };
}

/** The age of the restored backup at the declared failure, as an RPO (what a backup-only recovery loses at most). */
export function backupAgeRpo(manifest: BackupManifest, failureAt: Date, what: string): Pick<PathVerification, "rpoMs" | "rpoBasis"> {
  const ms = Math.max(0, failureAt.getTime() - Date.parse(manifest.consistentAt));
  return { rpoMs: ms, rpoBasis: `${what} ${manifest.id} was ${formatDuration(ms)} old at the failure` };
}

/** Smoke checks as one verdict per check; throws (failing the step) when one fails and `strict`. */
export async function smokeChecks(endpoint: PostgresEndpoint, manifest: BackupManifest | undefined, ctx: ScenarioContext): Promise<{ checks: Check[]; line: string }> {
  const results = await runSmokeChecks(endpoint, manifest, ctx.config.smoke.commands);
  const checks: Check[] = results.map((r) => ({ name: `smoke: ${r.name}`, status: r.status, detail: r.detail }));
  const failed = results.filter((r) => r.status !== "passed");
  const line = `${results.length - failed.length}/${results.length} smoke checks passed${failed.length ? `: ${failed.map((f) => `${f.name}: ${f.detail}`).join("; ")}` : ""}`;
  return { checks, line };
}

/**
 * A copy of the source Redis (its dataset now) in a stage folder, with its digest: a
 * fresh BGSAVE's file when the server's folder is on this machine, else a replica sync
 * (`redis-cli --rdb`, as the containers' backups take it).
 */
export async function copyProductionRedis(ctx: ScenarioContext): Promise<{ redis: StageRedis; dir: string; digest: string | undefined; keys: number; volatile: number }> {
  const source = ctx.source.redis;
  const dir = await ctx.stage.makeDir("redis-stage");
  if (source.localDataDir) {
    const client = await connectRedis(source);
    try {
      await runBgsave(client);
    } finally {
      client.disconnect();
    }
    await copyFile(join(source.localDataDir, "dump.rdb"), join(dir, "dump.rdb"));
  } else {
    await runCommand(findBinary("redis-cli"), [...redisCliArgs(source), "--rdb", join(dir, "dump.rdb")], { env: redisEnv(source), timeoutMs: 10 * 60_000 });
  }
  const redis = await ctx.stage.startRedis({ dir });
  return { redis, dir, ...(await readRedisDigest(redis.endpoint)) };
}

/**
 * A digest of a Redis dataset's keys without expiry (DEBUG DIGEST-VALUE of each, over the
 * sorted key names; undefined when the server refuses DEBUG), how many keys that covers, and
 * how many volatile keys it left out. Keys with a TTL are left out: one expiring between the
 * copy and the restore is Redis working, not data lost (the manifest check covers their TTLs).
 */
export async function readRedisDigest(endpoint: RedisEndpoint): Promise<{ digest: string | undefined; keys: number; volatile: number }> {
  const client = await connectRedis(endpoint);
  try {
    const names: Buffer[] = [];
    for await (const batch of scanKeyBatches(client, undefined, 1000)) names.push(...batch);
    names.sort(Buffer.compare);
    const hash = createHash("sha256");
    let keys = 0;
    let volatile = 0;
    for (let i = 0; i < names.length; i += 500) {
      const slice = names.slice(i, i + 500);
      const pipeline = client.pipeline();
      for (const name of slice) pipeline.pttl(name).call("DEBUG", "DIGEST-VALUE", name);
      const replies = (await pipeline.exec()) ?? [];
      for (let k = 0; k < slice.length; k += 1) {
        const [ttlError, ttl] = replies[2 * k] ?? [];
        const [digestError, value] = replies[2 * k + 1] ?? [];
        if (digestError) return { digest: undefined, keys: names.length, volatile: 0 };
        if (ttlError || ttl === -2) continue; // gone meanwhile
        if (ttl !== -1) {
          volatile += 1;
          continue;
        }
        keys += 1;
        hash.update(slice[k]!).update("\0").update(String(Array.isArray(value) ? value[0] : value)).update("\n");
      }
    }
    return { digest: hash.digest("hex"), keys, volatile };
  } finally {
    client.disconnect();
  }
}

/** A copy of the source media folder in a stage folder. */
export async function copyProductionMedia(ctx: ScenarioContext): Promise<string> {
  const dir = join(await ctx.stage.makeDir("media-stage"), "media");
  await cp(ctx.source.mediaDir, dir, { recursive: true });
  return dir;
}

/** Wait until the application has seen a failure (its writes fail), up to timeoutMs. */
export async function waitForAppError(app: HeartbeatWriter, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const before = app.failures();
  while (Date.now() < deadline) {
    if (app.failures() > before) return app.errors.at(-1)!;
    await sleep(50);
  }
  throw new Error(`the application saw no failure within ${timeoutMs} ms`);
}
