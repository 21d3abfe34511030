import { randomBytes } from "node:crypto";
import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { PullPolicy } from "testcontainers";
import { readServerVersion } from "../../clients/index.ts";
import type { PostgresEndpoint, StartedPostgres } from "../target.ts";
import type { ContainerRun } from "./container-run.ts";

/** A PostgreSQL server in a container of a run. */
export interface ContainerPostgres extends StartedPostgres {
  containerId: string;
}

export interface ContainerPostgresOptions {
  image: string;
  /** Database created at start (POSTGRES_DB); `postgres` for a scratch server. */
  database: string;
  run: ContainerRun;
  /**
   * The rehearsal source: data checksums on (a damaged page is then PostgreSQL's own error)
   * and replication connections allowed from other containers (copies, a standby).
   */
  source?: boolean;
}

/** Run by the image's entrypoint after initdb: replication connections from the container network, with a password. */
const ALLOW_REPLICATION = `#!/bin/sh
printf '\nhost replication all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
`;

/**
 * Start PostgreSQL from `image` (official postgres contract: POSTGRES_USER/PASSWORD/DB) on
 * an ephemeral host port, with a random password that travels only in the container's
 * environment. The stock health check is replaced: it puts PGPASSWORD in a shell command
 * line, which every `ps` on the host shows, and pg_isready needs no password anyway.
 */
export async function startContainerPostgres(options: ContainerPostgresOptions): Promise<ContainerPostgres> {
  const password = randomBytes(18).toString("base64url");
  const container = await new PostgreSqlContainer(options.image)
    .withUsername("postgres")
    .withPassword(password)
    .withDatabase(options.database)
    // initdb's fsyncs are most of a start-up, and a throwaway cluster needs none of them.
    // Only initdb: the server itself keeps fsync on, so measured restore times stay honest.
    .withEnvironment({ POSTGRES_INITDB_ARGS: options.source ? "--no-sync --data-checksums" : "--no-sync" })
    .withCopyContentToContainer(options.source ? [{ content: ALLOW_REPLICATION, target: "/docker-entrypoint-initdb.d/10-allow-replication.sh", mode: 0o755 }] : [])
    // TCP on localhost only answers once the init-time, socket-only server has made way for the real one.
    .withHealthCheck({
      test: ["CMD", "pg_isready", "--host", "localhost", "--port", "5432", "--username", "postgres", "--dbname", options.database],
      interval: 250,
      timeout: 1_000,
      retries: 1_000,
    })
    .withLabels(options.run.labels)
    .withPullPolicy(PullPolicy.neverPull())
    .start();
  options.run.add(container);
  const endpoint: PostgresEndpoint = {
    host: container.getHost(),
    port: container.getPort(),
    user: "postgres",
    password,
    database: options.database,
  };
  let version: string;
  try {
    version = await readServerVersion(endpoint);
  } catch (error) {
    await options.run.stop(container);
    throw error;
  }
  const stop = () => options.run.stop(container);
  return { endpoint, version, containerId: container.getId(), stop, [Symbol.asyncDispose]: stop };
}
