import { execa } from "execa";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getContainerRuntimeClient } from "testcontainers";
import { describe, expect, it } from "vitest";
import { connectPostgres, connectRedis, queryPostgres } from "../src/clients/index.ts";
import {
  backupPostgres,
  backupRedis,
  compareRedisWithManifest,
  restorePostgres,
  restoreRedisToDir,
  scratchDatabaseName,
} from "../src/components/index.ts";
import { buildConfig, type DrConfig } from "../src/config/index.ts";
import { DrError, isDrError } from "../src/errors/index.ts";
import { makeTempDir, pendingCleanups, removeTempDir, waitUntil } from "../src/lifecycle/index.ts";
import { createStorage } from "../src/storage/index.ts";
import { RUN_LABEL } from "../src/targets/containers/container-run.ts";
import { startContainersTarget } from "../src/targets/containers/containers-target.ts";
import { startContainersSandbox } from "../src/targets/containers/containers-sandbox.ts";
import { startNativePostgres, startNativeS3 } from "../src/targets/index.ts";
import { createRepository } from "../src/repository/index.ts";
import { runExistingDrill } from "../src/drill/run-existing-drill.ts";
import { seedPostgres } from "../fixtures/index.ts";
import { checkDockerEngine, checkImagesPresent } from "../src/targets/containers/docker-preflight.ts";

// Real containers from the configured images (DR_POSTGRES_IMAGE, DR_REDIS_IMAGE,
// DR_S3_IMAGE). Without a Docker engine or the images, the suite is skipped with the reason;
// DR_REQUIRE_CONTAINERS=1 (CI) turns that skip into a failure.
const REQUIRED = process.env.DR_REQUIRE_CONTAINERS === "1";
const config: DrConfig = buildConfig(undefined, { ...process.env, DR_TARGET: "containers" });

/** Why the engine cannot be used, or undefined when it answers. */
async function findEngineProblem(): Promise<string | undefined> {
  try {
    await checkDockerEngine();
    return undefined;
  } catch (error) {
    return isDrError(error) ? error.format() : String(error);
  }
}

/** Why the configured images cannot be used, or undefined when all are present. */
async function findImageProblem(): Promise<string | undefined> {
  try {
    await checkImagesPresent(await getContainerRuntimeClient(), config.images);
    return undefined;
  } catch (error) {
    return isDrError(error) ? error.format() : String(error);
  }
}

const engineProblem = await findEngineProblem();
const problem = engineProblem ?? (await findImageProblem());
if (problem && !REQUIRED) {
  console.warn(`containers-target suite skipped (set DR_REQUIRE_CONTAINERS=1 to make this a failure):\n${problem}`);
}

/** Containers (any state) carrying the dr-drill run label, optionally of one run. */
async function listRunContainers(runId?: string): Promise<string[]> {
  const client = await getContainerRuntimeClient();
  const label = runId ? `${RUN_LABEL}=${runId}` : RUN_LABEL;
  const found = await client.container.dockerode.listContainers({ all: true, filters: { label: [label] } });
  return found.map((info) => info.Id);
}

/** Every host process's command line (containers' processes included: they are host processes). */
async function readAllCommandLines(): Promise<string[]> {
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  const lines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")));
  return lines.map((line) => line.replaceAll("\0", " "));
}

/** What `docker inspect` shows of a container's command, entrypoint and health check. */
async function readInspectedCommands(id: string): Promise<string> {
  const client = await getContainerRuntimeClient();
  const info = await client.container.dockerode.getContainer(id).inspect();
  return JSON.stringify([info.Config.Cmd, info.Config.Entrypoint, info.Config.Healthcheck, info.Args, info.Path]);
}

describe("containers target preconditions", () => {
  it.runIf(REQUIRED)("has a Docker engine and every configured image (DR_REQUIRE_CONTAINERS=1)", () => {
    expect(problem).toBeUndefined();
  });
});

describe.skipIf(problem !== undefined)(`containers target${problem ? " (skipped: no engine or images, see warning)" : ""}`, () => {
  it("starts PostgreSQL, Redis and S3 containers in parallel, serves them, and stops every one", async () => {
    const started = performance.now();
    const target = await startContainersTarget(config);
    const startMs = performance.now() - started;
    const ids = target.containerIds();
    const dirs = target.dirs();
    try {
      expect(ids).toHaveLength(3);
      expect(await listRunContainers(target.runId)).toHaveLength(3);
      // In parallel: three containers, each a couple of seconds, well under their sum plus margin.
      expect(startMs).toBeLessThan(60_000);
      console.log(`containers target started in ${Math.round(startMs)} ms`);

      const rows = await queryPostgres<{ answer: number; db: string }>(target.postgres, "select 6 * 7 as answer, current_database() as db");
      expect(rows[0]).toEqual({ answer: 42, db: "deltacrown" });

      const redis = await connectRedis(target.redis);
      expect(await redis.ping()).toBe("PONG");
      redis.disconnect();
      expect(target.redis.localDataDir).toBeUndefined();

      using storage = createStorage(target.s3);
      const body = `hello ${Date.now()}`;
      await storage.put("probe.txt", body);
      expect(await (await storage.get("probe.txt")).toArray().then((chunks) => Buffer.concat(chunks).toString())).toBe(body);
      // RGW (our offline image) checks the payload hash we send, as AWS does: bytes that do not
      // match it are refused and nothing is stored. LocalStack checks no signatures; say what it did.
      const wrongSha256 = createHash("sha256").update(`not ${body}`).digest("hex");
      const mismatch = await storage.put("mismatch.txt", Buffer.from(body), { sha256: wrongSha256 }).then(() => "stored", (error: unknown) => String(error));
      if (config.images.s3.startsWith("dr-drill/s3:")) {
        expect(mismatch).toMatch(/XAmzContentSHA256Mismatch/);
        expect(await storage.stat("mismatch.txt")).toBeUndefined();
      } else {
        console.log(`S3 image ${config.images.s3}: a body that does not match x-amz-content-sha256 was ${mismatch === "stored" ? "stored (the endpoint does not check it)" : `refused: ${mismatch}`}`);
      }
      // Capabilities are what the bucket answers now, not assumed.
      expect(target.s3.capabilities).toEqual(await storage.probeCapabilities());
      expect(target.s3.bucket).toBe("dr-drill-backups");

      const described = target.describe();
      expect(described.kind).toBe("containers");
      expect(described.images).toEqual(config.images);
      expect(described.postgres).toMatch(new RegExp(`^PostgreSQL \\d+\\.\\d+ \\(container ${escapeRegExp(config.images.postgres)} \\[image id [0-9a-f]{12}\\], `));
      expect(described.redis).toMatch(new RegExp(`^Redis \\d+\\.\\d+\\.\\d+ \\(container ${escapeRegExp(config.images.redis)} \\[image id [0-9a-f]{12}\\], `));
      expect(described.s3).toContain(`container ${config.images.s3} [image id `);
      expect(target.readOnlySource).toBe(false);
      expect(existsSync(target.mediaDir)).toBe(true);

      // Passwords: in the containers' environment at most, never on a command line.
      const secrets = [target.postgres.password!, target.redis.password!];
      const commandLines = (await readAllCommandLines()).join("\n");
      const inspected = (await Promise.all(ids.map(readInspectedCommands))).join("\n");
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThan(16);
        expect(commandLines).not.toContain(secret);
        expect(inspected).not.toContain(secret);
      }
    } finally {
      await target.stop();
    }
    expect(await listRunContainers(target.runId)).toEqual([]);
    expect(dirs.filter((dir) => existsSync(dir))).toEqual([]);
    expect(pendingCleanups()).toBe(0);
  });

  it("backs up from the containers and restores into scratch containers, which stop with the target", async () => {
    const target = await startContainersTarget(config);
    const work = await makeTempDir("containers-test");
    try {
      const pg = await connectPostgres(target.postgres);
      await pg.query("CREATE TABLE drill_probe (id int PRIMARY KEY, note text)");
      await pg.query("INSERT INTO drill_probe SELECT g, 'row ' || g FROM generate_series(1, 500) g");
      await pg.end();
      const redis = await connectRedis(target.redis);
      await redis.set("session:1", "alice");
      await redis.hset("user:1", { name: "alice", plan: "pro" });
      await redis.set("cache:ttl", "soon", "EX", 3600);
      redis.disconnect();

      using storage = createStorage(target.s3);
      const ctx = { storage, config, postgres: target.postgres, redis: target.redis, mediaDir: target.mediaDir, recipients: [] };

      // Redis: the remote path (`redis-cli --rdb`), then a new container loading the RDB.
      const redisManifest = await backupRedis(ctx);
      expect(redisManifest.redis?.method).toBe("redis-cli --rdb");
      const { file } = await restoreRedisToDir({ storage, manifest: redisManifest, identities: [] }, work);
      const scratchRedis = await target.startScratchRedis(file);
      expect(scratchRedis.endpoint.port).not.toBe(target.redis.port);
      const restored = await connectRedis(scratchRedis.endpoint);
      expect(await restored.get("session:1")).toBe("alice");
      expect(await restored.hgetall("user:1")).toEqual({ name: "alice", plan: "pro" });
      expect(await restored.ttl("cache:ttl")).toBeGreaterThan(3000);
      restored.disconnect();
      expect((await compareRedisWithManifest(scratchRedis.endpoint, redisManifest)).matches).toBe(true);

      // PostgreSQL: host pg_dump against the container, pg_restore into a new container.
      const pgManifest = await backupPostgres(ctx);
      const scratchPg = await target.startScratchPostgres();
      expect(scratchPg.version).toMatch(/^\d+\.\d+/);
      expect(scratchPg.endpoint.port).not.toBe(target.postgres.port);
      const into = { ...scratchPg.endpoint, database: scratchDatabaseName() };
      await restorePostgres({ storage, manifest: pgManifest, identities: [], into, source: target.postgres, jobs: 2 });
      const rows = await queryPostgres<{ n: string }>(into, "SELECT count(*) AS n FROM drill_probe", [], into.database);
      expect(Number(rows[0]?.n)).toBe(500);

      expect(target.containerIds()).toHaveLength(5);
    } finally {
      await removeTempDir(work);
      await target.stop();
    }
    // The scratch containers were never stopped on their own: the target's stop took them.
    expect(await listRunContainers(target.runId)).toEqual([]);
    expect(pendingCleanups()).toBe(0);
  });

  it("a scenario stage copies the source as a streaming standby; the password is in a file, not in the container's environment", async () => {
    const target = await startContainersTarget(config);
    try {
      if (!target.stages.available) throw new Error(`containers stages unavailable: ${target.stages.reason}`);
      await using stage = await target.stages.open();
      const standby = await stage.copyPostgres(target.postgres, { standby: true, label: "standby-test" });
      await queryPostgres(target.postgres, "CREATE TABLE stage_probe AS SELECT 42 AS answer");
      // The walreceiver authenticates with what pg_basebackup -R wrote from the password file.
      const seen = await waitUntil(async () => {
        const rows = await queryPostgres<{ answer: number }>(standby.endpoint, "SELECT answer FROM stage_probe").catch(() => []);
        return rows[0]?.answer;
      }, { timeoutMs: 30_000 });
      expect(seen).toBe(42);
      const [receiver] = await queryPostgres<{ status: string; recovering: boolean }>(standby.endpoint, "SELECT status, pg_is_in_recovery() AS recovering FROM pg_stat_wal_receiver");
      expect(receiver).toEqual({ status: "streaming", recovering: true });
      const client = await getContainerRuntimeClient();
      const everyContainer = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${target.runId}`] } });
      const inspected = await Promise.all(everyContainer.map((c) => client.container.dockerode.getContainer(c.Id).inspect()));
      const copy = inspected.find((info) => JSON.stringify(info.Config.Entrypoint).includes("pg_basebackup"));
      expect(copy, `the copy's container among the run's ${everyContainer.length}`).toBeDefined();
      expect(JSON.stringify(copy!.Config.Env)).toContain("PGPASSFILE=");
      expect(JSON.stringify(copy!.Config.Env)).not.toContain(target.postgres.password!);
      expect(JSON.stringify(copy!.Config)).not.toContain(target.postgres.password!);
    } finally {
      await target.stop();
    }
    expect(await listRunContainers(target.runId)).toEqual([]);
  });

  it("drills existing backups in a containers sandbox: the scratch server comes from the backup's major, and goes with the sandbox", async () => {
    const source = await startNativePostgres({ database: "shop", label: "sandbox-source" });
    const s3 = await startNativeS3("sandbox-repo");
    const sandbox = await startContainersSandbox(config);
    try {
      await seedPostgres(source.endpoint, { targetBytes: 2e6, seed: 5 });
      const repository = createRepository("primary", s3.endpoint, { recipients: [], identities: [], identityFile: undefined, keySource: "none" });
      const manifest = await backupPostgres({ storage: repository.storage, config, postgres: source.endpoint, redis: source.endpoint as never, mediaDir: "", recipients: [] });
      const drill = await runExistingDrill({
        config: { ...config, target: "external" },
        repository,
        sandbox,
        source: { kind: "external", postgres: source.endpoint, redis: undefined, mediaDir: undefined, writable: false },
        components: ["postgres"],
      });
      expect(drill.recoveries.postgres.ok, drill.recoveries.postgres.error).toBe(true);
      expect(drill.recoveries.postgres.backupId).toBe(manifest.id);
      expect(drill.recoveries.postgres.steps[0]!.detail).toMatch(/^PostgreSQL 15\.\d+ on /);
      expect(drill.smoke.every((c) => c.status === "passed")).toBe(true);
      expect(drill.recoveries.redis.configured).toBe(false);
      await repository.close();
    } finally {
      await sandbox.stop();
      await Promise.allSettled([source.stop(), s3.stop()]);
    }
    // This sandbox's containers only: a run killed with the engine leaves others behind.
    expect(await listRunContainers(sandbox.runId)).toEqual([]);
  });

  it("stops every container and removes the media folder on SIGTERM", async () => {
    const module = fileURLToPath(new URL("../src/targets/containers/containers-target.ts", import.meta.url));
    const configModule = fileURLToPath(new URL("../src/config/index.ts", import.meta.url));
    const script = [
      `const { buildConfig } = await import(${JSON.stringify(configModule)});`,
      `const { startContainersTarget } = await import(${JSON.stringify(module)});`,
      `const target = await startContainersTarget(buildConfig(undefined, { ...process.env, DR_TARGET: "containers" }));`,
      "process.stdout.write(JSON.stringify({ runId: target.runId, dirs: target.dirs() }) + '\\n');",
      "setInterval(() => undefined, 60_000);",
    ].join("\n");
    const child = execa(process.execPath, ["--input-type=module-typescript", "-e", script], { reject: false });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => resolve(chunk.toString().trim().split("\n")[0]!));
      void child.then((r) => reject(new Error(`child exited early: ${r.stderr}`)));
    });
    const { runId, dirs } = JSON.parse(line) as { runId: string; dirs: string[] };
    expect(await listRunContainers(runId)).toHaveLength(3);
    child.kill("SIGTERM");
    const result = await child;
    expect(result.exitCode).toBe(143);
    expect(await listRunContainers(runId)).toEqual([]);
    expect(dirs.filter((dir) => existsSync(dir))).toEqual([]);
  });
});

describe.skipIf(engineProblem !== undefined)("containers target, fail fast", () => {
  // Needs the configured images present, so that the absent one is the only one named.
  it.skipIf(problem !== undefined)("names an absent image and how to get it, and starts nothing", async () => {
    const before = await listRunContainers();
    const absent = "dr-drill/absent-image:never-built";
    const started = performance.now();
    const error = await startContainersTarget({ ...config, images: { ...config.images, redis: absent } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const failMs = performance.now() - started;
    expect(error).toBeInstanceOf(DrError);
    const drError = error as DrError;
    expect(drError.code).toBe("TARGET_START_FAILED");
    expect(drError.exitCode).toBe(1);
    expect(drError.message).toBe(`unable to find image '${absent}' (DR_REDIS_IMAGE / images.redis): not on the Docker engine, and the containers target never pulls`);
    expect(drError.hint).toBe(`run 'bash scripts/build-offline-images.sh', or 'docker pull ${absent}' on a machine with registry access`);
    expect(failMs).toBeLessThan(10_000);
    expect(await listRunContainers()).toEqual(before);
  });

  it("names every absent image at once", async () => {
    const images = { postgres: "dr-drill/absent-pg:1", redis: "dr-drill/absent-redis:1", s3: "dr-drill/absent-s3:1" };
    const error = await startContainersTarget({ ...config, images }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).format()).toBe([
      "unable to find images 'dr-drill/absent-pg:1' (DR_POSTGRES_IMAGE / images.postgres), 'dr-drill/absent-redis:1' (DR_REDIS_IMAGE / images.redis), " +
        "'dr-drill/absent-s3:1' (DR_S3_IMAGE / images.s3): not on the Docker engine, and the containers target never pulls",
      "HINT: run 'bash scripts/build-offline-images.sh', or 'docker pull dr-drill/absent-pg:1' and 'docker pull dr-drill/absent-redis:1' and " +
        "'docker pull dr-drill/absent-s3:1' on a machine with registry access",
    ].join("\n"));
  });
});

describe.skipIf(problem !== undefined)("containers target, failed start", () => {
  it("stops the containers already started when one of them fails, and removes the media folder", async () => {
    const before = await listRunContainers();
    const tmp = await mkdtemp(join(tmpdir(), "containers-failed-start-"));
    const previousTmp = process.env.DR_TMPDIR;
    process.env.DR_TMPDIR = tmp;
    try {
      // A Redis image as the S3 server: it logs "Ready..." but answers no S3 on 4566.
      const error = await startContainersTarget({ ...config, images: { ...config.images, s3: config.images.redis } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DrError);
      const drError = error as DrError;
      expect(drError.code).toBe("TARGET_START_FAILED");
      expect(drError.message).toMatch(/^unable to start target 'containers': the S3 container failed: unable to create bucket 'dr-drill-backups': /);
      expect(drError.hint).toBe("DR_S3_IMAGE must serve S3 on port 4566 and log 'Ready' once it does, as LocalStack does; DEBUG='testcontainers*' shows the containers' logs");
      expect(await listRunContainers()).toEqual(before);
      expect(await readdir(tmp)).toEqual([]);
      expect(pendingCleanups()).toBe(0);
    } finally {
      if (previousTmp === undefined) delete process.env.DR_TMPDIR;
      else process.env.DR_TMPDIR = previousTmp;
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

/** Escape text for use inside a RegExp. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
