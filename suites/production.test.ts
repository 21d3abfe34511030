// A team's production, as a new user meets dr-drill: their own PostgreSQL, Redis, media
// folder, bucket and keys (DR_TARGET=external), any subset of components. Backups run as
// cron runs them; every recovery command then works with the source stopped and its media
// folder deleted; the drill restores the backups cron made and adds nothing to the backup
// prefixes; status tells fresh from stale and failed.
import { execa } from "execa";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedMedia, seedPostgres, seedRedis } from "../fixtures/index.ts";
import { connectRedis } from "../src/clients/index.ts";
import { findBinary } from "../src/exec/index.ts";
import { readManifest } from "../src/manifest/index.ts";
import { createStorage, type S3Storage } from "../src/storage/index.ts";
import { startNativePostgres, startNativeRedis, startNativeS3, type StartedPostgres, type StartedRedis } from "../src/targets/index.ts";
import type { StartedS3 } from "../src/targets/native/native-s3.ts";

const BIN = fileURLToPath(new URL("../bin/dr-drill.js", import.meta.url));

/** One production: servers, bucket, keys, and the environment its cron jobs run with. */
interface Production {
  postgres: StartedPostgres;
  redis: StartedRedis;
  s3: StartedS3;
  storage: S3Storage;
  mediaDir: string;
  work: string;
  env: Record<string, string>;
}

let work: string;
const productions: Production[] = [];

/** Start a production with its own servers, bucket and keys (seeded like an application's data). */
async function startProduction(name: string): Promise<Production> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const [postgres, redis, s3] = await Promise.all([
    startNativePostgres({ database: "shop", label: "prod-pg" }),
    startNativeRedis({ label: "prod-redis" }),
    startNativeS3(`prod-${name}`),
  ]);
  const mediaDir = join(dir, "media");
  await Promise.all([
    seedPostgres(postgres.endpoint, { targetBytes: 5e6, seed: 11 }),
    seedRedis(redis.endpoint, { seed: 11 }),
    seedMedia(mediaDir, { seed: 11 }),
  ]);
  const identity = await generateIdentity();
  const keyFile = join(dir, "age.key");
  await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
  const pg = postgres.endpoint;
  const env = {
    DR_TARGET: "external",
    DR_DATABASE_URL: `postgres://${pg.user}:${encodeURIComponent(pg.password!)}@${pg.host}:${pg.port}/shop`,
    DR_REDIS_URL: `redis://:${encodeURIComponent(redis.endpoint.password!)}@${redis.endpoint.host}:${redis.endpoint.port}`,
    DR_MEDIA_DIR: mediaDir,
    DR_S3_BUCKET: s3.endpoint.bucket,
    DR_S3_ENDPOINT: s3.endpoint.endpoint!,
    DR_S3_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: s3.endpoint.credentials!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.endpoint.credentials!.secretAccessKey,
    DR_AGE_RECIPIENTS: await identityToRecipient(identity),
    DR_AGE_IDENTITY_FILE: keyFile,
    DR_STATE_DIR: join(dir, "state"),
    DR_REPORT_DIR: join(dir, "reports"),
  };
  const production = { postgres, redis, s3, storage: createStorage(s3.endpoint), mediaDir, work: dir, env };
  productions.push(production);
  return production;
}

/** Run the CLI as cron or a person would, never throwing. */
async function cli(production: Production, args: string[], env: Record<string, string | undefined> = {}) {
  const merged = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", ...production.env, ...env };
  const defined = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
  return await execa(process.execPath, [BIN, ...args], { env: defined, extendEnv: false, reject: false, cwd: production.work });
}

/** Every key under the backup prefixes (everything but `_dr-drill/` coordination objects). */
async function backupKeys(storage: S3Storage): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list("")) if (!object.key.startsWith("_dr-drill/")) keys.push(object.key);
  return keys.sort();
}

/** Stop the source servers and delete the media folder: the disaster itself. */
async function loseSource(production: Production): Promise<void> {
  await production.postgres.stop();
  await production.redis.stop();
  await rm(production.mediaDir, { recursive: true, force: true });
}

describe("a team's production (external target)", () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "dr-prod-test-"));
    // Native PostgreSQL runs as the postgres OS user when we are root.
    await chmod(work, 0o755);
  });
  afterAll(async () => {
    for (const p of productions) {
      p.storage.client.destroy();
      await Promise.allSettled([p.postgres.stop(), p.redis.stop(), p.s3.stop()]);
    }
    await rm(work, { recursive: true, force: true });
  });

  it("PostgreSQL only: backs up what is configured, names the variable of what is not, restores with the source down", async () => {
    const p = await startProduction("pg-only");
    const only = { DR_REDIS_URL: undefined, DR_MEDIA_DIR: undefined };
    const backup = await cli(p, ["backup", "all"], only);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/postgres-\d{8}T\d{9}Z: .* encrypted \(age\)/);
    expect(backup.stdout).not.toMatch(/redis-|media-/);

    const redis = await cli(p, ["backup", "redis"], only);
    expect(redis.exitCode).toBe(2);
    expect(redis.stderr).toContain("unable to back up redis: it is not configured (DR_REDIS_URL is not set)");

    const list = await cli(p, ["list", "--json"], only);
    expect(list.exitCode, list.stderr).toBe(0);
    const entries = JSON.parse(list.stdout) as { component: string; status: string }[];
    expect(entries.map((e) => [e.component, e.status])).toEqual([["postgres", "complete"], ["redis", "not configured"], ["media", "not configured"]]);

    const status = await cli(p, ["status", "--json"], only);
    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
    const verdicts = (JSON.parse(status.stdout) as { components: { component: string; verdict: string }[] }).components.map((c) => [c.component, c.verdict]);
    expect(verdicts).toEqual([["postgres", "fresh"], ["redis", "not configured"], ["media", "not configured"]]);

    await loseSource(p);
    const target = await startNativePostgres({ label: "new-server" });
    try {
      const into = `postgres://postgres@127.0.0.1:${target.endpoint.port}/shop_restored`;
      const restore = await cli(p, ["restore", "postgres", "--latest", "--into", into], { ...only, PGPASSWORD: target.endpoint.password });
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(restore.stdout).toMatch(/Restored into postgres:\/\/postgres@127\.0\.0\.1:\d+\/shop_restored: .* dump -> .* database/);
      expect(`${restore.stdout}${restore.stderr}`).not.toContain(target.endpoint.password!);
    } finally {
      await target.stop();
    }
    const drill = await cli(p, ["drill"], only);
    expect(drill.exitCode, drill.stdout.slice(-3000) + drill.stderr.slice(-2000)).toBe(0);
    const report = await readFile(join(p.env.DR_REPORT_DIR!, "DR_STATUS.md"), "utf8");
    expect(report).toContain("| **Redis cache failure** | <15m | <5m | Redis not configured | ➖ NOT CONFIGURED |");
    expect(report).toContain("| **Media file loss** | <1d | <1h | Media not configured | ➖ NOT CONFIGURED |");
    expect(report).toMatch(/\| \*\*Database corruption\*\* \| <1h \| <15m \| RPO \(backup age at failure\): .*, RTO: .* \| ✅ MEETS \|/);
  }, 240_000);

  it("media only: backup, then restore into place after the folder is gone", async () => {
    const p = await startProduction("media-only");
    const only = { DR_DATABASE_URL: undefined, DR_REDIS_URL: undefined };
    const before = await readdir(p.mediaDir, { recursive: true });
    const backup = await cli(p, ["backup", "all"], only);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^media-\d{8}T\d{9}Z: /m);
    await loseSource(p);
    expect((await cli(p, ["verify"], only)).exitCode).toBe(0);
    const restore = await cli(p, ["restore", "media", "--latest", "--into", p.mediaDir], only);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/Restored 200 files/);
    const after = await readdir(p.mediaDir, { recursive: true });
    // Everything but the excluded clutter (*.pyc, __pycache__/, .DS_Store) is back.
    const kept = (paths: string[]) => paths.filter((f) => !/(__pycache__|\.pyc$|\.DS_Store$)/.test(f)).sort();
    expect(kept(after)).toEqual(kept(before));
  }, 120_000);

  describe("all three components, backed up as cron would", () => {
    const SHORT_TTL_MS = 8_000;
    let shortSetAt = 0;
    let p: Production;
    beforeAll(async () => {
      p = await startProduction("full");
      // Sessions that expire a moment after the backup: Redis drops them when the RDB loads.
      // 8 s, so they are still there when the backup's BGSAVE runs on a loaded machine.
      const redis = await connectRedis(p.redis.endpoint);
      for (let i = 0; i < 50; i++) await redis.set(`session:short:${i}`, "x", "PX", SHORT_TTL_MS);
      shortSetAt = Date.now();
      redis.disconnect();
      const backup = await cli(p, ["backup", "all"]);
      expect(backup.exitCode, backup.stderr).toBe(0);
    }, 180_000);

    it("the drill restores the newest backups, adds nothing to the backup prefixes, reports RPO as their age and runs the team's commands", async () => {
      // Every short session has expired before the drill loads the RDB.
      await sleep(Math.max(0, shortSetAt + SHORT_TTL_MS + 500 - Date.now()));
      const config = join(p.work, "dr.config.ts");
      await writeFile(config, `export default { smoke: { commands: [{ name: "users exist", command: ["${findBinary("psql")}", "-tAc", "SELECT count(*) > 0 FROM accounts_user"] }] } };\n`);
      const keysBefore = await backupKeys(p.storage);
      const newest = (await execaJson(p, ["list", "--json"])).filter((e) => e.component === "postgres").at(-1)!;
      const startedAt = Date.now();
      const drill = await cli(p, ["drill", "--prometheus", join(p.work, "drill.prom")], { DR_CONFIG: config });
      const finishedAt = Date.now();
      expect(drill.exitCode, drill.stdout.slice(-4000) + drill.stderr.slice(-2000)).toBe(0);
      expect(await backupKeys(p.storage)).toEqual(keysBefore);

      const json = JSON.parse(await readFile(join(p.env.DR_REPORT_DIR!, "dr-status.json"), "utf8")) as {
        drill: { mode: string; failureAt: string; backups: unknown[]; redisComparison: { expiredSinceBackup: number }; recoveries: Record<string, { backupId: string; ok: boolean }>; smoke: { name: string; status: string; detail: string }[] };
        scenarios: { scenario: string; rpoMs?: number; mark: string }[];
      };
      expect(json.drill.mode).toBe("existing");
      expect(json.drill.backups).toEqual([]);
      expect(json.drill.recoveries.postgres!.backupId).toBe(newest.id);
      for (const c of ["postgres", "redis", "media"]) expect(json.drill.recoveries[c]!.ok, c).toBe(true);
      expect(json.drill.redisComparison.expiredSinceBackup).toBeGreaterThanOrEqual(50);
      const manifest = await readManifest(p.storage, newest.id);
      const failureAt = Date.parse(json.drill.failureAt);
      expect(failureAt).toBeGreaterThanOrEqual(startedAt);
      expect(failureAt).toBeLessThanOrEqual(finishedAt);
      const rpo = json.scenarios.find((s) => s.scenario === "Database corruption")!.rpoMs!;
      expect(Math.abs(rpo - (failureAt - Date.parse(manifest.consistentAt)))).toBeLessThan(1000);
      expect(json.drill.smoke.find((s) => s.name === "users exist")).toMatchObject({ status: "passed" });
      const prom = join(p.work, "drill.prom");
      const check = await execa(findBinary("promtool"), ["check", "metrics"], { input: await readFile(prom), reject: false });
      expect(check.exitCode, check.stdout + check.stderr).toBe(0);
      expect(await readFile(prom, "utf8")).toMatch(/^dr_drill_scenario_rpo_seconds\{scenario="Database corruption"\} \d/m);

      // A failing team command fails the drill, with its stderr in the report and secrets masked.
      await writeFile(config, `export default { smoke: { commands: [{ name: "broken check", command: ["/bin/sh", "-c", "echo \\"check failed for $PGPASSWORD\\" >&2; exit 3"] }] } };\n`);
      const failing = await cli(p, ["drill"], { DR_CONFIG: config });
      expect(failing.exitCode).toBe(1);
      const report = await readFile(join(p.env.DR_REPORT_DIR!, "DR_STATUS.md"), "utf8");
      expect(report).toMatch(/\| broken check \| ❌ FAIL \| .*check failed for \*\*\*/);
      expect(report).toContain("**DR Status**: ❌ FAILING");
      expect(await backupKeys(p.storage)).toEqual(keysBefore);
    }, 300_000);

    it("status: 0 when fresh, 1 when stale, 1 after a failed attempt; promtool accepts the textfile; an unwritable path exits 2", async () => {
      const fresh = await cli(p, ["status", "--prometheus", join(p.work, "status.prom")]);
      expect(fresh.exitCode, fresh.stdout + fresh.stderr).toBe(0);
      const check = await execa(findBinary("promtool"), ["check", "metrics"], { input: await readFile(join(p.work, "status.prom")), reject: false });
      expect(check.exitCode, check.stdout + check.stderr).toBe(0);
      const prom = await readFile(join(p.work, "status.prom"), "utf8");
      for (const c of ["postgres", "redis", "media"]) {
        expect(prom).toMatch(new RegExp(`^dr_drill_backup_last_attempt_success\\{component="${c}"\\} 1$`, "m"));
        expect(prom).toMatch(new RegExp(`^dr_drill_backup_fresh\\{component="${c}"\\} 1$`, "m"));
      }

      // Redis every second: its newest backup is stale after 1.5 s.
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const stale = await cli(p, ["status"], { DR_REDIS_INTERVAL: "1s" });
      expect(stale.exitCode).toBe(1);
      expect(stale.stdout).toMatch(/^redis +stale /m);
      expect(stale.stderr).toMatch(/redis: newest backup redis-\S+ is .* old, over its interval 1(\.0)?s \+ grace 500ms/);

      const failed = await cli(p, ["backup", "postgres"], { DR_DATABASE_URL: `postgres://postgres:wrong@127.0.0.1:${p.postgres.endpoint.port}/shop` });
      expect(failed.exitCode).toBe(2);
      const afterFailure = await cli(p, ["status", "--prometheus", join(p.work, "status.prom")]);
      expect(afterFailure.exitCode).toBe(1);
      expect(afterFailure.stderr).toMatch(/postgres: last attempt \(started .*\) failed: unable to connect to PostgreSQL/);
      expect(afterFailure.stdout).toMatch(/^postgres +fresh /m);
      expect(await readFile(join(p.work, "status.prom"), "utf8")).toMatch(/^dr_drill_backup_last_attempt_success\{component="postgres"\} 0$/m);

      const unwritable = await cli(p, ["status", "--prometheus", join(p.work, "no-such-dir", "status.prom")]);
      expect(unwritable.exitCode).toBe(2);
      expect(unwritable.stderr).toContain("unable to write Prometheus textfile");
      await expect(stat(join(p.work, "no-such-dir"))).rejects.toThrow();
      expect((await readdir(p.work)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    }, 120_000);

    it("every recovery command works with the source stopped and its media folder deleted", async () => {
      await loseSource(p);
      const list = await cli(p, ["list"]);
      expect(list.exitCode, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/postgres-\S+ +complete/);
      const verify = await cli(p, ["verify"]);
      expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
      const status = await cli(p, ["status"]);
      expect(status.stdout).toMatch(/^postgres +fresh /m);
      const prune = await cli(p, ["prune", "--dry-run"]);
      expect(prune.exitCode, prune.stderr).toBe(0);
      // The native S3 emulator cannot list multipart uploads: said so, never "0".
      expect(prune.stdout).toMatch(/^incomplete uploads: not verified \(/m);

      const target = await startNativePostgres({ label: "new-server" });
      try {
        const restore = await cli(p, ["restore", "postgres", "--latest", "--into", `postgres://postgres@127.0.0.1:${target.endpoint.port}/shop`], { PGPASSWORD: target.endpoint.password });
        expect(restore.exitCode, restore.stderr).toBe(0);
        // Into the (dead) source database itself: refused, whatever the server's state.
        const intoSource = await cli(p, ["restore", "postgres", "--latest", "--into", `postgres://postgres@127.0.0.1:${p.postgres.endpoint.port}/shop`]);
        expect(intoSource.exitCode).toBe(2);
        expect(intoSource.stderr).toContain("it is the source database");
      } finally {
        await target.stop();
      }
      const redisDir = join(p.work, "redis-restored");
      const redis = await cli(p, ["restore", "redis", "--latest", "--into", redisDir]);
      expect(redis.exitCode, redis.stderr).toBe(0);
      expect((await stat(join(redisDir, "dump.rdb"))).size).toBeGreaterThan(1e6);
      const media = await cli(p, ["restore", "media", "--latest", "--into", p.mediaDir]);
      expect(media.exitCode, media.stderr).toBe(0);
      expect(media.stdout).toContain("Restored 200 files");
    }, 180_000);
  });

  it("--existing with no backups at all: exit 1, report ❌ 'no complete backups', nothing written to the bucket", async () => {
    const p = await startProduction("empty");
    const before = [];
    for await (const o of p.storage.list("")) before.push(o.key);
    const drill = await cli(p, ["drill", "--existing"]);
    expect(drill.exitCode).toBe(1);
    const report = await readFile(join(p.env.DR_REPORT_DIR!, "DR_STATUS.md"), "utf8");
    expect(report).toContain("there are no complete PostgreSQL backups");
    expect(report).toContain("**DR Status**: ❌ FAILING");
    const after = [];
    for await (const o of p.storage.list("")) after.push(o.key);
    expect(after).toEqual(before);
  }, 120_000);
});

/** `list --json` parsed. */
async function execaJson(p: Production, args: string[]): Promise<{ id: string; component: string; status: string }[]> {
  const r = await cli(p, args);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { id: string; component: string; status: string }[];
}
