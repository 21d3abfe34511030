import { appendFile, chown, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { startRestoredPostgres } from "../src/components/postgres/restored-postgres.ts";
import { describeCommand, startCommand } from "../src/exec/index.ts";
import { makeTempDir, removeTempDir } from "../src/lifecycle/index.ts";
import type { S3Storage } from "../src/storage/index.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import type { BenchTask } from "./bench-task.ts";
import { CLI_BIN, type CliRepository, describeCli, makeCliEnv, REPO_ROOT, runCli } from "./cli-process.ts";
import type { CliBenchContext } from "./cli-tasks.ts";
import { PGBACKREST_STANZA, runPgbackrest, type PhysicalCluster } from "./physical-cluster.ts";

const TIMEOUT_MS = 60 * 60_000;

/** A fresh folder the postgres OS user owns, for a restored data directory (removed after the iteration). */
async function makeDataParent(cluster: PhysicalCluster, label: string): Promise<{ parent: string; dataDir: string }> {
  const parent = await makeTempDir(label, cluster.server.osUser);
  const dataDir = join(parent, "data");
  await mkdir(dataDir, { mode: 0o700 });
  if (cluster.server.osUser) await chown(dataDir, cluster.server.osUser.uid, cluster.server.osUser.gid);
  return { parent, dataDir };
}

/**
 * A restore timed to the same finish line for every tool: `restore` fills a fresh data
 * directory, then the server is started on it until recovery ends and it is promoted; the
 * server is stopped and the folder removed after each iteration, untimed.
 */
function makeRestoreAndStartTask(
  cluster: PhysicalCluster,
  task: Pick<BenchTask, "id" | "name" | "command" | "notes" | "inputBytes">,
  restore: (dataDir: string) => Promise<void>,
): BenchTask {
  let folder: { parent: string; dataDir: string } | undefined;
  let stop: (() => Promise<void>) | undefined;
  return {
    ...task,
    group: "postgres-restore",
    facts: [],
    beforeEach: async () => {
      folder = await makeDataParent(cluster, task.id);
    },
    run: async () => {
      await restore(folder!.dataDir);
      const server = await startRestoredPostgres(folder!.dataDir, { database: cluster.server.endpoint.database });
      stop = server.stop;
    },
    afterEach: async () => {
      await stop?.();
      stop = undefined;
      if (folder) await removeTempDir(folder.parent);
    },
  };
}

/** pgBackRest full backup of the copy cluster into its posix repository (informative: no goal). */
export function makePgbackrestBackupTask(cluster: PhysicalCluster, databaseBytes: number): BenchTask {
  const config = cluster.pgbackrestConfig!;
  const args = ["--type=full", "backup"];
  return {
    id: "pgbackrest-backup",
    name: "pgbackrest backup --type=full (posix repo)",
    group: "postgres",
    command: describeCommand("pgbackrest", [`--config=CONF`, `--stanza=${PGBACKREST_STANZA}`, ...args]),
    notes: `as the postgres OS user, of a pg_basebackup copy of the bench cluster (the whole cluster: every database), ${cluster.pgbackrestSettings}; no encryption, repository on local disk`,
    inputBytes: databaseBytes,
    facts: [],
    run: () => runPgbackrest(cluster.server, config, args, TIMEOUT_MS),
  };
}

/**
 * pgBackRest restore of its newest full backup into a new data directory, then the server
 * started on it until recovery ends (WAL through archive-get, promoted): what a user waits
 * for before the database answers. archive_mode is turned off in the restored copy so it
 * never archives into the bench's repository.
 */
export function makePgbackrestRestoreTask(cluster: PhysicalCluster, databaseBytes: number): BenchTask {
  const config = cluster.pgbackrestConfig!;
  return makeRestoreAndStartTask(cluster, {
    id: "pgbackrest-restore",
    name: "pgbackrest restore + start until promoted",
    command: `${describeCommand("pgbackrest", ["--config=CONF", `--stanza=${PGBACKREST_STANZA}`, "--pg1-path=NEWDIR", "restore"])} && postgres -D NEWDIR (until pg_is_in_recovery() is false)`,
    notes: "newest full backup of the copy cluster, process-max=2, WAL fetched by archive-get; timed until the restored server is promoted",
    inputBytes: databaseBytes,
  }, async (dataDir) => {
    await runPgbackrest(cluster.server, config, [`--pg1-path=${dataDir}`, "restore"], TIMEOUT_MS);
    await appendFile(join(dataDir, "postgresql.auto.conf"), "archive_mode = 'off'\n");
  });
}

/**
 * dr-drill's physical path on the copy cluster: `dr-drill wal stream` runs for the whole
 * bench (started before the rounds, untimed), `backup postgres --physical` streams
 * pg_basebackup's tar through zstd and age to S3 and waits for its WAL, `restore postgres --physical
 * --latest --verify` unpacks it, fetches the WAL, starts it until promoted and runs the
 * smoke checks.
 */
export function makeDrDrillPhysicalTasks(ctx: CliBenchContext, cluster: PhysicalCluster, databaseBytes: number): BenchTask[] {
  const bucket = "bench-pg-physical";
  const repo: CliRepository = { s3: ctx.target.s3, bucket, identityFile: ctx.identityFile, stateDir: join(ctx.scratchDir, "state-physical") };
  const env = makeCliEnv(repo, cluster.server.endpoint);
  let storage: S3Storage | undefined;
  let streamer: ReturnType<typeof startCommand> | undefined;
  let folder: { parent: string; dataDir: string } | undefined;
  const spool = join(ctx.scratchDir, "wal-spool-physical");
  const backupFacts: Record<string, number>[] = [];
  const backup: BenchTask = {
    id: "cli-backup-physical",
    name: "node bin/dr-drill.js backup postgres --physical",
    group: "postgres",
    command: `DR_TARGET=external … ${describeCli(["backup", "postgres", "--physical"])} (with '${describeCli(["wal", "stream", "--spool", "DIR"])}' running)`,
    notes: "base backup of the copy cluster (the whole cluster), pg_basebackup tar | zstd -1 (the stock zstd beside dr-drill) | sha256 | age | S3 as base.tar.zst.age, waits until its WAL is archived",
    inputBytes: databaseBytes,
    facts: backupFacts,
    setup: async () => {
      storage = await openBenchBucket(ctx.target.s3, bucket, ctx.storageOptions);
      await emptyBucket(storage);
      streamer = startCommand(process.execPath, [CLI_BIN, "wal", "stream", "--spool", spool], { env, cwd: REPO_ROOT, timeoutMs: 4 * 3_600_000 });
      streamer.catch(() => undefined);
    },
    run: async () => {
      const { peakRssBytes } = await runCli(["backup", "postgres", "--physical"], env, { timeoutMs: TIMEOUT_MS, peakRss: true });
      if (peakRssBytes !== undefined) backupFacts.push({ peakRssBytes });
    },
    teardown: async () => {
      streamer?.kill("SIGINT");
      await streamer?.catch(() => undefined);
      if (storage) await emptyBucket(storage).catch(() => undefined);
      storage?.[Symbol.dispose]();
    },
  };
  const restore: BenchTask = {
    id: "cli-restore-physical",
    name: "node bin/dr-drill.js restore postgres --physical --latest --verify",
    group: "postgres-restore",
    command: `DR_TARGET=external … ${describeCli(["restore", "postgres", "--physical", "--into", "NEWDIR", "--latest", "--verify"])}`,
    notes: "newest base backup (curl | age -d | zstd -d | tar -x, signed by dr-drill, no temp copy) plus its WAL, unpacked while fetched and flushed to disk as it goes, started until promoted, smoke checks (the whole cluster)",
    inputBytes: databaseBytes,
    facts: [],
    beforeEach: async () => {
      folder = await makeDataParent(cluster, "drdrill-physical");
    },
    run: async () => {
      await runCli(["restore", "postgres", "--physical", "--into", folder!.dataDir, "--latest", "--verify"], env, { timeoutMs: TIMEOUT_MS });
    },
    afterEach: async () => {
      if (folder) await removeTempDir(folder.parent);
    },
  };
  // The same restore without --verify, then the server started until promoted exactly as
  // the pgBackRest task starts its copy: the issue's "to a server accepting connections".
  const restoreStart = makeRestoreAndStartTask(cluster, {
    id: "cli-restore-physical-start",
    name: "node bin/dr-drill.js restore postgres --physical --latest + start until promoted",
    command: `DR_TARGET=external … ${describeCli(["restore", "postgres", "--physical", "--into", "NEWDIR", "--latest"])} && postgres -D NEWDIR (until pg_is_in_recovery() is false)`,
    notes: "newest base backup and its WAL as in the --verify task, then the server started on it until promoted, as the pgBackRest restore task does (no smoke checks): the same finish line",
    inputBytes: databaseBytes,
  }, async (dataDir) => {
    await runCli(["restore", "postgres", "--physical", "--into", dataDir, "--latest"], env, { timeoutMs: TIMEOUT_MS });
  });
  return [backup, restore, restoreStart];
}
