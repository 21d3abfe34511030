import { chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectPostgres } from "../src/clients/postgres-client.ts";
import { runCommand } from "../src/exec/index.ts";
import { makeTempDir, removeTempDir } from "../src/lifecycle/index.ts";
import { startNativePostgres, type NativePostgres } from "../src/targets/native/native-postgres.ts";
import type { StartedTarget } from "../src/targets/target.ts";
import { logStep } from "./log-step.ts";

/** The pgBackRest stanza of the bench. */
export const PGBACKREST_STANZA = "bench";

/** A copy of the bench cluster for the physical tools, and pgBackRest's repository beside it when it works. */
export interface PhysicalCluster {
  server: NativePostgres;
  /** Sum of pg_database_size over every database of the copy: what a physical backup copies. */
  clusterBytes: number;
  /** pgBackRest's config file, undefined when pgBackRest could not be set up (see `pgbackrestReason`). */
  pgbackrestConfig: string | undefined;
  /** Why pgBackRest is not measured, when it is not. */
  pgbackrestReason: string | undefined;
  /** pgBackRest settings, for the report. */
  pgbackrestSettings: string;
  stop(): Promise<void>;
}

/** Bytes of every database of a cluster. */
async function readClusterBytes(server: NativePostgres): Promise<number> {
  const client = await connectPostgres(server.endpoint, "postgres");
  try {
    const { rows } = await client.query<{ bytes: string }>("SELECT sum(pg_database_size(oid)) AS bytes FROM pg_database");
    return Number(rows[0]?.bytes ?? 0);
  } finally {
    await client.end();
  }
}

/** pgBackRest's first output line, or why it cannot run. */
export async function readPgbackrestVersion(): Promise<{ version?: string; reason?: string }> {
  try {
    const { stdout } = await runCommand("pgbackrest", ["version"], { timeoutMs: 10_000 });
    return { version: stdout.trim() };
  } catch (error) {
    return { reason: `pgbackrest does not run here (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); 'bash scripts/bootstrap.sh --bench' installs the Debian package` };
  }
}

/** The settings written to pgbackrest.conf besides paths (shown in the report). */
const PGBACKREST_OPTIONS = ["process-max=2", "compress-type=gz", "compress-level=1", "start-fast=y", "repo1-retention-full=2", "archive-async=n"];

/**
 * A pg_basebackup copy of the bench cluster (same data, same password), as both physical
 * tools need: pgBackRest must set archive_mode and archive_command, which takes a restart
 * of the server, and the bench's own source server must stay as it is for the other tasks.
 * When pgBackRest runs, its posix repository is made in a temporary folder of the postgres
 * OS user, the copy archives into it (`archive-push`), and the stanza is created and checked.
 */
export async function openPhysicalCluster(target: StartedTarget): Promise<PhysicalCluster> {
  logStep("physical tools: copying the bench cluster (pg_basebackup) for pgBackRest and dr-drill --physical");
  const server = await startNativePostgres({ label: "pg-physical", copyOf: { endpoint: target.postgres } });
  server.endpoint.database = target.postgres.database;
  let repoDir: string | undefined;
  const cluster: PhysicalCluster = {
    server,
    clusterBytes: await readClusterBytes(server),
    pgbackrestConfig: undefined,
    pgbackrestReason: undefined,
    pgbackrestSettings: PGBACKREST_OPTIONS.join(", "),
    stop: async () => {
      await server.stop();
      if (repoDir) await removeTempDir(repoDir);
    },
  };
  const probe = await readPgbackrestVersion();
  if (!probe.version) {
    cluster.pgbackrestReason = probe.reason;
    return cluster;
  }
  try {
    repoDir = await makeTempDir("pgbackrest", server.osUser);
    const config = join(repoDir, "pgbackrest.conf");
    for (const sub of ["repo", "lock", "spool", "log"]) {
      await mkdir(join(repoDir, sub), { mode: 0o700 });
      if (server.osUser) await chown(join(repoDir, sub), server.osUser.uid, server.osUser.gid);
    }
    await writeFile(config, [
      "[global]",
      `repo1-path=${join(repoDir, "repo")}`,
      `lock-path=${join(repoDir, "lock")}`,
      `spool-path=${join(repoDir, "spool")}`,
      `log-path=${join(repoDir, "log")}`,
      "log-level-console=warn",
      "log-level-file=off",
      ...PGBACKREST_OPTIONS,
      "",
      `[${PGBACKREST_STANZA}]`,
      `pg1-path=${server.dataDir}`,
      `pg1-port=${server.endpoint.port}`,
      `pg1-socket-path=${server.dir}`,
      "pg1-user=postgres",
      "",
    ].join("\n"), { mode: 0o600 });
    if (server.osUser) await chown(config, server.osUser.uid, server.osUser.gid);
    const admin = await connectPostgres(server.endpoint, "postgres");
    try {
      await admin.query("ALTER SYSTEM SET archive_mode = 'on'");
      await admin.query(`ALTER SYSTEM SET archive_command = 'pgbackrest --config=${config} --stanza=${PGBACKREST_STANZA} archive-push %p'`);
    } finally {
      await admin.end();
    }
    await server.halt();
    await server.start();
    await runPgbackrest(cluster.server, config, ["stanza-create"]);
    await runPgbackrest(cluster.server, config, ["check"]);
    cluster.pgbackrestConfig = config;
    logStep(`pgBackRest ${probe.version}: stanza '${PGBACKREST_STANZA}' created and checked (repo ${join(repoDir, "repo")})`);
  } catch (error) {
    cluster.pgbackrestReason = `pgBackRest could not be set up on the copy of the bench cluster: ${error instanceof Error ? error.message.split("\n").slice(0, 4).join(" / ") : String(error)}`;
    logStep(cluster.pgbackrestReason);
  }
  return cluster;
}

/** `pgbackrest --config=CONF --stanza=bench ARGS` as the postgres OS user, the password in PGPASSWORD. */
export async function runPgbackrest(server: NativePostgres, config: string, args: readonly string[], timeoutMs = 60 * 60_000): Promise<void> {
  await runCommand("pgbackrest", [`--config=${config}`, `--stanza=${PGBACKREST_STANZA}`, ...args], {
    asUser: server.osUser,
    env: { PGPASSWORD: server.endpoint.password },
    timeoutMs,
  });
}
