// The second repository (DR_REPLICA_S3_*): every backup completed in the primary is copied
// there, manifest last, media content once; list/verify/restore/status read it with
// --repo replica while the primary endpoint is down; status reports how far it lags and a
// later backup catches it up.
import { execa } from "execa";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedMedia, seedPostgres } from "../fixtures/index.ts";
import { listCompleteBackups } from "../src/manifest/index.ts";
import { createStorage, type S3Storage } from "../src/storage/index.ts";
import { startNativePostgres, startNativeS3, type StartedPostgres } from "../src/targets/index.ts";
import type { StartedS3 } from "../src/targets/native/native-s3.ts";

const BIN = fileURLToPath(new URL("../bin/dr-drill.js", import.meta.url));

let work: string;
let source: StartedPostgres;
let primary: StartedS3;
let replica: StartedS3;
let env: Record<string, string>;

/** The replica's S3 endpoint, persistent so it can be stopped and started again (a new port each time). */
async function startReplica(): Promise<StartedS3> {
  return await startNativeS3("replica-backups", join(work, "replica-s3"));
}

async function cli(args: string[], extra: Record<string, string | undefined> = {}) {
  const merged = { PATH: process.env.PATH, HOME: process.env.HOME, ...env, DR_REPLICA_S3_ENDPOINT: replica.endpoint.endpoint!, ...extra };
  const defined = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
  return await execa(process.execPath, [BIN, ...args], { env: defined, extendEnv: false, reject: false, cwd: work });
}

/** Complete backup ids of a component in a repository. */
async function ids(s3: StartedS3, component: "postgres" | "media"): Promise<string[]> {
  const storage: S3Storage = createStorage(s3.endpoint);
  try {
    return (await listCompleteBackups(storage, component)).map((m) => m.id);
  } finally {
    storage.client.destroy();
  }
}

describe("replica repository", () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "dr-replica-test-"));
    await chmod(work, 0o755);
    [source, primary] = await Promise.all([startNativePostgres({ database: "shop", label: "replica-src" }), startNativeS3("primary-backups", join(work, "primary-s3"))]);
    replica = await startReplica();
    const mediaDir = join(work, "media");
    await mkdir(mediaDir);
    await Promise.all([seedPostgres(source.endpoint, { targetBytes: 3e6, seed: 3 }), seedMedia(mediaDir, { seed: 3 })]);
    const identity = await generateIdentity();
    await writeFile(join(work, "age.key"), `${identity}\n`, { mode: 0o600 });
    const pg = source.endpoint;
    env = {
      DR_TARGET: "external",
      DR_DATABASE_URL: `postgres://${pg.user}:${encodeURIComponent(pg.password!)}@${pg.host}:${pg.port}/shop`,
      DR_MEDIA_DIR: mediaDir,
      DR_S3_BUCKET: primary.endpoint.bucket,
      DR_S3_ENDPOINT: primary.endpoint.endpoint!,
      DR_REPLICA_S3_BUCKET: replica.endpoint.bucket,
      AWS_ACCESS_KEY_ID: primary.endpoint.credentials!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: primary.endpoint.credentials!.secretAccessKey,
      DR_AGE_RECIPIENTS: await identityToRecipient(identity),
      DR_AGE_IDENTITY_FILE: join(work, "age.key"),
      DR_STATE_DIR: join(work, "state"),
      DR_REPORT_DIR: join(work, "reports"),
    };
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled([source?.stop(), primary?.stop(), replica?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it("copies every completed backup (manifest last, media content once) and reads the replica while the primary is down", async () => {
    const first = await cli(["backup", "all"]);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^postgres-\S+: copied to s3:\/\/replica-backups\/ \(\d+ objects/m);
    const media = /^media-\S+: copied to \S+ \((\d+) objects, .*; (\d+) already there\)$/m.exec(first.stdout);
    expect(Number(media![1])).toBeGreaterThan(200);
    expect(await ids(replica, "postgres")).toEqual(await ids(primary, "postgres"));

    // Nothing changed in the media folder: the second snapshot copies its lists and manifest, no content.
    const second = await cli(["backup", "media"]);
    expect(second.exitCode, second.stderr).toBe(0);
    const again = /^media-\S+: copied to \S+ \((\d+) objects, .*; (\d+) already there\)$/m.exec(second.stdout);
    expect(Number(again![1])).toBe(3);
    expect(Number(again![2])).toBeGreaterThanOrEqual(200);

    const status = await cli(["status"]);
    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^postgres: replica s3:\/\/replica-backups\/ newest postgres-\S+ \(.* old\), 0 backup\(s\) behind$/m);

    await primary.stop();
    const down = await cli(["list"]);
    expect(down.exitCode).not.toBe(0);
    const list = await cli(["list", "--repo", "replica"]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/postgres-\S+ +complete/);
    const verify = await cli(["verify", "--repo", "replica"]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    const target = await startNativePostgres({ label: "region-b" });
    try {
      const restore = await cli(["restore", "postgres", "--repo", "replica", "--latest", "--into", `postgres://postgres@127.0.0.1:${target.endpoint.port}/shop`], { PGPASSWORD: target.endpoint.password });
      expect(restore.exitCode, restore.stderr).toBe(0);
    } finally {
      await target.stop();
    }
    const replicaStatus = await cli(["status", "--repo", "replica"]);
    expect(replicaStatus.exitCode, replicaStatus.stdout + replicaStatus.stderr).toBe(0);
    primary = await startNativeS3("primary-backups", join(work, "primary-s3"));
  }, 240_000);

  it("a replica down during a backup: the backup completes in the primary, exit 1, status shows the lag, the next backup catches up", async () => {
    env.DR_S3_ENDPOINT = primary.endpoint.endpoint!;
    const first = await cli(["backup", "postgres"]);
    expect(first.exitCode, first.stderr).toBe(0);
    await replica.stop();
    const lagging = await cli(["backup", "postgres"], { DR_REPLICA_S3_ENDPOINT: "http://127.0.0.1:9" });
    expect(lagging.exitCode).toBe(1);
    expect(lagging.stderr).toContain("unable to copy 1 backup(s) to repository 'replica'");
    expect((await ids(primary, "postgres")).length).toBe(3);

    replica = await startReplica();
    const status = await cli(["status", "postgres"], { DR_POSTGRES_INTERVAL: "1ms" });
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toMatch(/postgres: replica s3:\/\/replica-backups\/ lags 1 backup\(s\) behind/);

    const catchUp = await cli(["backup", "postgres"]);
    expect(catchUp.exitCode, catchUp.stderr).toBe(0);
    expect(catchUp.stdout.match(/^postgres-\S+: copied to /gm)).toHaveLength(2);
    expect(await ids(replica, "postgres")).toEqual(await ids(primary, "postgres"));
  }, 240_000);
});
