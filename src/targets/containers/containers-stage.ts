import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { GenericContainer, PullPolicy, Wait, type ContainerRuntimeClient, type StartedTestContainer } from "testcontainers";
import { connectPostgres, connectRedis, readServerVersion } from "../../clients/index.ts";
import { parseInfo } from "../../clients/redis-info.ts";
import type { PostgresEndpoint } from "../../clients/endpoints.ts";
import { DrError } from "../../errors/index.ts";
import { findFreePort, makeTempDir, removeTempDir, waitUntil } from "../../lifecycle/index.ts";
import type { ScenarioStage, StagePostgres, StageRedis } from "../stage.ts";
import { REDIS_CONFIG_PATH, renderRedisConfig } from "./container-redis.ts";
import type { ContainerRun } from "./container-run.ts";
import { startContainerS3 } from "./container-s3.ts";

/** Where the stage's PostgreSQL containers keep their data (a folder of this machine, bind-mounted). */
const PGDATA = "/var/lib/postgresql/data";

export interface ContainersStageOptions {
  images: { postgres: string; redis: string; s3: string };
  run: ContainerRun;
  client: ContainerRuntimeClient;
  /** Host port -> container id of the servers a copy may be made from (the rehearsal source). */
  sources: Map<number, string>;
}

/** The container's address on the default bridge network (how another container reaches it). */
async function bridgeAddress(client: ContainerRuntimeClient, containerId: string): Promise<string> {
  const info = await client.container.dockerode.getContainer(containerId).inspect();
  const address = Object.values(info.NetworkSettings.Networks ?? {}).map((n) => n.IPAddress).find(Boolean);
  if (!address) throw new DrError("TARGET_START_FAILED", `unable to find the network address of container '${containerId.slice(0, 12)}'`);
  return address;
}

/** Where a stage container finds the source's password for pg_basebackup (a file, never the environment). */
const PGPASS_PATH = "/run/dr-drill/pgpass";

/** One libpq password-file line for any host, port and database of `user` (':' and '\\' escaped as libpq reads them). */
export function pgpassLine(user: string, password: string): string {
  const escape = (text: string) => text.replace(/[\\:]/g, (c) => `\\${c}`);
  return `*:*:*:${escape(user)}:${escape(password)}\n`;
}

/** Wait until a PostgreSQL answers queries (after a start or a restart). */
async function waitForPostgres(endpoint: PostgresEndpoint): Promise<void> {
  await waitUntil(async () => {
    try {
      const client = await connectPostgres(endpoint, "postgres");
      await client.end();
      return true;
    } catch {
      return undefined;
    }
  }, { timeoutMs: 60_000 });
}

/**
 * A failure scenario's stage as containers of the target's images: PostgreSQL copies made
 * by pg_basebackup inside a new container (from the source's bridge address), Redis and S3
 * containers. Data directories are folders of this machine bind-mounted into the
 * containers, so a scenario damages or deletes them as it would on a host; each container
 * has a fixed host port, so one restarted after a crash comes back where its clients
 * expect it. Everything carries the run's label and goes with the stage.
 */
export function startContainersStage(options: ContainersStageOptions): ScenarioStage {
  const { run, client, images } = options;
  const addresses = new Map(options.sources);
  const stoppers: (() => Promise<void>)[] = [];
  const docker = (container: StartedTestContainer) => client.container.dockerode.getContainer(container.getId());
  const own = (container: StartedTestContainer) => {
    run.add(container);
    stoppers.push(() => run.stop(container));
    return container;
  };
  const makeDir = async (label: string) => {
    const dir = await makeTempDir(label);
    stoppers.unshift(() => removeTempDir(dir));
    return dir;
  };
  const stop = async () => {
    for (const stopOne of stoppers.splice(0).reverse()) await stopOne().catch(() => undefined);
  };
  return {
    describe: () => `containers of ${images.postgres} and ${images.redis} (data directories bind-mounted), ${images.s3} endpoints`,
    copyPostgres: async (source, copyOptions = {}) => {
      const from = addresses.get(source.port);
      if (!from) throw new DrError("TARGET_START_FAILED", `unable to copy PostgreSQL '${source.host}:${source.port}' into a container: it is not a container of this run`);
      const sourceAddress = await bridgeAddress(client, from);
      const dataDir = join(await makeDir(copyOptions.label ?? "pg-stage"), "data");
      await mkdir(dataDir);
      const port = await findFreePort();
      // First start: copy, then the image's own entrypoint; a restart finds the data and only starts it.
      // The password file goes to the postgres user: a standby's walreceiver reads it too (pg_basebackup -R names it in primary_conninfo).
      const script = `chown postgres "$PGPASSFILE" 2>/dev/null; if [ ! -s "$PGDATA/PG_VERSION" ]; then pg_basebackup -D "$PGDATA" -h ${sourceAddress} -p 5432 -U ${source.user} --checkpoint=fast --wal-method=stream --no-sync${copyOptions.standby ? " --write-recovery-conf" : ""}; fi && exec docker-entrypoint.sh postgres`;
      const container = own(await new GenericContainer(images.postgres)
        // The password in a file, not in the container's environment, which `docker inspect` shows.
        .withEnvironment({ PGPASSFILE: PGPASS_PATH, PGDATA })
        .withCopyContentToContainer(source.password === undefined ? [] : [{ content: pgpassLine(source.user, source.password), target: PGPASS_PATH, mode: 0o600 }])
        .withBindMounts([{ source: dataDir, target: PGDATA }])
        .withEntrypoint(["bash", "-c", script])
        .withExposedPorts({ container: 5432, host: port })
        .withLabels(run.labels)
        .withPullPolicy(PullPolicy.neverPull())
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept (read-only )?connections/).withStartupTimeout(120_000))
        .start());
      addresses.set(port, container.getId());
      const endpoint: PostgresEndpoint = { ...source, host: container.getHost(), port };
      await waitForPostgres(endpoint);
      const server: StagePostgres = {
        endpoint,
        version: await readServerVersion(endpoint),
        dir: dataDir,
        dataDir,
        osUser: undefined,
        kill: async () => {
          await docker(container).kill({ signal: "SIGKILL" }).catch(() => undefined);
          await docker(container).wait();
        },
        halt: async () => {
          // SIGINT: PostgreSQL's fast shutdown (a checkpoint, then exit).
          await docker(container).kill({ signal: "SIGINT" });
          await docker(container).wait();
        },
        start: async () => {
          await docker(container).start();
          await waitForPostgres(endpoint);
        },
        stop: () => run.stop(container),
        [Symbol.asyncDispose]: () => run.stop(container),
      };
      return server;
    },
    startRedis: async ({ dir, port, password }) => {
      const hostPort = port ?? (await findFreePort());
      const secret = password ?? randomBytes(18).toString("base64url");
      const container = own(await new GenericContainer(images.redis)
        .withCopyContentToContainer([{ content: renderRedisConfig(secret, { debugCommand: true }), target: REDIS_CONFIG_PATH, mode: 0o644 }])
        .withCommand(["redis-server", REDIS_CONFIG_PATH])
        .withBindMounts([{ source: dir, target: "/data" }])
        .withExposedPorts({ container: 6379, host: hostPort })
        .withLabels(run.labels)
        .withPullPolicy(PullPolicy.neverPull())
        .withWaitStrategy(Wait.forLogMessage("Ready to accept connections"))
        .start());
      const stopIt = () => run.stop(container);
      const endpoint = { host: container.getHost(), port: hostPort, password: secret, localDataDir: dir };
      const info = await connectRedis(endpoint).then(async (c) => {
        try {
          return parseInfo(await c.info("server"));
        } finally {
          c.disconnect();
        }
      });
      const redis: StageRedis = {
        endpoint,
        version: info.get("redis_version") ?? "unknown",
        dir,
        kill: async () => {
          await docker(container).kill({ signal: "SIGKILL" }).catch(() => undefined);
          await docker(container).wait();
        },
        stop: stopIt,
        [Symbol.asyncDispose]: stopIt,
      };
      return redis;
    },
    startS3: async (bucket) => {
      const s3 = await startContainerS3({ image: images.s3, bucket, run });
      stoppers.push(() => s3.stop());
      return {
        endpoint: s3.endpoint,
        kill: async () => {
          const container = client.container.dockerode.getContainer(s3.containerId);
          await container.kill({ signal: "SIGKILL" }).catch(() => undefined);
          await container.wait();
        },
        stop: () => s3.stop(),
      };
    },
    makeDir,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
