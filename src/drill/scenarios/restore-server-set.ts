import { join } from "node:path";
import { formatBytes, formatDuration } from "../../config/index.ts";
import { compareRedisWithManifest, restoreMedia, restorePostgres, restoreRedisToDir } from "../../components/index.ts";
import { compareTrees } from "../../components/media/media-compare.ts";
import { majorOf } from "../../components/postgres/pg-tool-version.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Check } from "../../measure/verdict.ts";
import type { Storage } from "../../storage/storage.ts";
import type { StageRedis, StartedPostgres } from "../../targets/index.ts";
import { newestBackup, newestDump, smokeChecks } from "./production-copy.ts";
import type { ScenarioContext, ScenarioStep } from "./scenario.ts";

/** A new server set restored from a repository: PostgreSQL, Redis and the media folder. */
export interface RestoredServerSet {
  postgres: StartedPostgres;
  redis?: StageRedis;
  mediaDir: string;
  backups: { postgres: BackupManifest; redis?: BackupManifest; media?: BackupManifest };
}

/** Time one piece of a parallel restore, for the step's detail. */
async function timed<T>(what: string, fn: () => Promise<T>, describe: (value: T) => string): Promise<{ value: T; line: string }> {
  const started = performance.now();
  const value = await fn();
  return { value, line: `${what} ${describe(value)} in ${formatDuration(performance.now() - started)}` };
}

/** A new, empty PostgreSQL server from the sandbox that can read the newest dump in `storage`. */
export async function provisionPostgres(ctx: ScenarioContext, storage: Storage): Promise<{ server: StartedPostgres; manifest: BackupManifest }> {
  const manifest = await newestDump(storage);
  const version = manifest.postgres?.serverVersion;
  const major = version ? majorOf(version) : Number.NaN;
  const server = await ctx.sandbox.startScratchPostgres(Number.isFinite(major) ? { major } : {});
  return { server, manifest };
}

/**
 * Restore the newest backups of a repository onto a new server set, the three at once:
 * the PostgreSQL dump into `database` on `server`, the RDB into a new Redis of the stage,
 * the media snapshot into `mediaDir`. Returns the set and one line per piece with its time.
 */
export async function restoreServerSet(ctx: ScenarioContext, storage: Storage, server: StartedPostgres, manifest: BackupManifest, database: string, mediaDir: string): Promise<{ set: RestoredServerSet; line: string }> {
  const [pg, redis, media] = await Promise.all([
    timed("PostgreSQL", () => restorePostgres({ storage, manifest, identities: ctx.identities, into: { ...server.endpoint, database }, source: undefined, jobs: ctx.config.postgres.restoreJobs }), (r) => `${formatBytes(r.restoredBytes)}`),
    timed("Redis", async () => {
      const rdb = await newestBackup(storage, "redis");
      const dir = await ctx.stage.makeDir("redis-new");
      await restoreRedisToDir({ storage, manifest: rdb, identities: ctx.identities }, dir);
      return { rdb, redis: await ctx.stage.startRedis({ dir }) };
    }, (r) => `${r.rdb.id} answering on port ${r.redis.endpoint.port}`),
    timed("media", async () => {
      const snapshot = await newestBackup(storage, "media");
      const restored = await restoreMedia({ storage, manifest: snapshot, identities: ctx.identities }, mediaDir);
      return { snapshot, restored };
    }, (r) => `${r.restored.files} files`),
  ]);
  return {
    set: { postgres: server, redis: redis.value.redis, mediaDir, backups: { postgres: manifest, redis: redis.value.rdb, media: media.value.snapshot } },
    line: [pg.line, redis.line, media.line].join("; "),
  };
}

/**
 * The checks that prove a restored server set: smoke checks (before the application
 * writes to it: row counts are compared with the backup), Redis against its manifest,
 * media against the source folder.
 */
export async function checkServerSet(ctx: ScenarioContext, set: RestoredServerSet, database: string, options: { smoke: boolean }): Promise<Check[]> {
  const [smoke, redis, media] = await Promise.all([
    options.smoke ? smokeChecks({ ...set.postgres.endpoint, database }, set.backups.postgres, ctx) : { checks: [] },
    set.redis && set.backups.redis ? compareRedisWithManifest(set.redis.endpoint, set.backups.redis) : undefined,
    compareTrees(ctx.source.mediaDir, set.mediaDir, ctx.config.media.excludes),
  ]);
  return [
    ...smoke.checks,
    redis
      ? { name: "Redis keys, types and TTLs equal to the manifest", status: redis.matches ? "passed" : "failed", detail: `keys ${JSON.stringify(redis.keys.restored)} vs ${JSON.stringify(redis.keys.expected)}` }
      : { name: "Redis keys, types and TTLs equal to the manifest", status: "failed", detail: "no Redis restored" },
    { name: "media: every file equal to before the failure", status: media.same ? "passed" : "failed", detail: media.detail },
  ];
}

/** The folder a new media tree goes in on the new server set. */
export async function newMediaDir(ctx: ScenarioContext): Promise<string> {
  return join(await ctx.stage.makeDir("media-new"), "media");
}

/** Throw with the failed checks (a recovery step that verifies). */
export function requirePassed(checks: readonly Check[]): string {
  const failed = checks.filter((c) => c.status === "failed");
  if (failed.length) throw new Error(failed.map((c) => `${c.name}: ${c.detail}`).join("; "));
  return `${checks.length} checks passed (${checks.map((c) => c.name.replace(/^smoke: /, "")).join(", ")})`;
}


/** The state a new-server-set recovery fills in as its steps run. */
export interface ServerSetStage {
  ctx: ScenarioContext;
  database: string;
  newServer?: StartedPostgres;
  newest?: BackupManifest;
  restored?: RestoredServerSet;
  checks?: Check[];
}

/**
 * The runbook step that restores the three components onto the new server at once, from
 * the repository `repository` names (the CLI's `--repo`), and the step that checks them.
 */
export function serverSetSteps<S extends ServerSetStage>(names: { restore: string; check: string }, repository: "primary" | "replica", storageOf: (stage: S) => Storage): ScenarioStep<S>[] {
  const repo = repository === "replica" ? " --repo replica" : "";
  return [
    {
      name: names.restore,
      command: (s) => [
        `dr-drill restore postgres${repo} --latest --into postgres://postgres@NEWHOST:5432/${s.database} &`,
        `dr-drill restore redis${repo} --latest --into /var/lib/redis && systemctl start redis &`,
        `dr-drill restore media${repo} --latest --into /opt/app/media &`,
        "wait",
      ].join("\n"),
      run: async (s) => {
        const { set, line } = await restoreServerSet(s.ctx, storageOf(s), s.newServer!, s.newest!, s.database, await newMediaDir(s.ctx));
        s.restored = set;
        return line;
      },
    },
    { name: names.check, command: () => "python manage.py check && redis-cli PING", run: async (s) => {
      s.checks = await checkServerSet(s.ctx, s.restored!, s.database, { smoke: true });
      return requirePassed(s.checks);
    } },
  ];
}
