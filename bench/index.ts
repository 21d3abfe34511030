// `pnpm bench` (node bench/index.ts): the Backups issue's benchmarks side by side in one run.
// Starts the native target (PostgreSQL, Redis, fauxqs on 127.0.0.1), seeds the fixtures, times
// every task in interleaved tinybench rounds, measures the peak RSS of one backup in a child
// process, prints a table and the ratios, writes reports/bench.json and reports/BENCH.md, and
// stops everything it started.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../src/lifecycle/index.ts";
import { startNativeTarget } from "../src/targets/native/native-target.ts";
import type { NativeTarget } from "../src/targets/native/native-target.ts";
import { runAgeCryptoBench } from "./age-crypto.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { makeGoalLines, makeTaskRows, renderBenchMarkdown, type BenchReport, type NotVerified } from "./bench-report.ts";
import { BENCH_ENV_NAMES, readBenchSettings, type BenchSettings } from "./bench-settings.ts";
import type { BenchTask } from "./bench-task.ts";
import { findCpuWatch } from "./cpu-usage.ts";
import { evaluateGoals } from "./evaluate-goals.ts";
import { findLivePids } from "./live-pids.ts";
import { logStep } from "./log-step.ts";
import { describeMachine } from "./machine-info.ts";
import { describeBackupChild, measureBackupRss, type RssMeasurement } from "./measure-backup-rss.ts";
import { makeMediaLane } from "./media-lane.ts";
import { makeDrDrillMediaTask, makeRcloneTask, type MediaBenchContext } from "./media-tasks.ts";
import { makeDumpThenUploadTask, makePgDumpFileTask, makePipelineTask } from "./postgres-tasks.ts";
import { runRounds } from "./run-rounds.ts";
import { makeIdentityFile } from "./bench-keys.ts";
import { measureCliPieces, profileCliBackup, type CliOverhead } from "./cli-overhead.ts";
import { type CliBenchContext, type CliBreakdowns, defaultRestoreJobs, makeCliBackupTask, makeCliRestoreTask, makeCliStartupTask, makePgRestoreTask } from "./cli-tasks.ts";
import { openPhysicalCluster, readPgbackrestVersion, type PhysicalCluster } from "./physical-cluster.ts";
import { makeDrDrillPhysicalTasks, makePgbackrestBackupTask, makePgbackrestRestoreTask } from "./physical-tasks.ts";
import { seedFixtures, type SeededFixtures } from "./seed-fixtures.ts";
import { makeWalPushTask } from "./wal-push-latency.ts";
import { makeWalStreamTask } from "./wal-stream-throughput.ts";
import { readSourceState, type SourceState } from "./source-state.ts";

const REPORT_DIR = fileURLToPath(new URL("../reports/", import.meta.url));
const MIB = 1024 * 1024;

/** Whether a task id survives BENCH_ONLY. */
function isSelected(settings: BenchSettings, id: string): boolean {
  return settings.only.length === 0 || settings.only.some((prefix) => id.startsWith(prefix));
}

/**
 * The tasks of a round, in the order they run: start-up, backups (plain tools, dr-drill in
 * process and as a CLI, the physical tools), restores (each after the backups it reads),
 * then media (each first sync before its no-change re-sync).
 */
function makeTasks(settings: BenchSettings, pg: CliBenchContext, media: MediaBenchContext, breakdowns: CliBreakdowns, cluster: PhysicalCluster | undefined): BenchTask[] {
  const plain = settings.plainVariants;
  const ageLane = makeMediaLane("bench-media-drdrill-age");
  const plainLane = makeMediaLane("bench-media-drdrill-plain");
  const rcloneLane = makeMediaLane("bench-media-rclone");
  const pgbackrest = cluster?.pgbackrestConfig ? cluster : undefined;
  const physical = cluster ? makeDrDrillPhysicalTasks(pg, cluster, cluster.clusterBytes) : [];
  const all = [
    makeCliStartupTask(pg),
    makePgDumpFileTask(pg),
    makePipelineTask(pg, true),
    makeCliBackupTask(pg, breakdowns),
    ...(plain ? [makePipelineTask(pg, false)] : []),
    makeDumpThenUploadTask(pg, false),
    ...(plain ? [makeDumpThenUploadTask(pg, true)] : []),
    ...(pgbackrest ? [makePgbackrestBackupTask(pgbackrest, pgbackrest.clusterBytes)] : []),
    ...physical.slice(0, 1),
    makePgRestoreTask(pg),
    makePgRestoreTask(pg, { sessionOptions: true }),
    makeCliRestoreTask(pg, breakdowns),
    ...(pgbackrest ? [makePgbackrestRestoreTask(pgbackrest, pgbackrest.clusterBytes)] : []),
    ...physical.slice(1),
    makeWalPushTask(pg),
    makeWalStreamTask(pg),
    makeDrDrillMediaTask(media, ageLane, true, true),
    makeDrDrillMediaTask(media, ageLane, true, false),
    ...(plain ? [makeDrDrillMediaTask(media, plainLane, false, true), makeDrDrillMediaTask(media, plainLane, false, false)] : []),
    makeRcloneTask(media, rcloneLane, true),
    makeRcloneTask(media, rcloneLane, false),
  ];
  return all.filter((task) => isSelected(settings, task.id));
}

/** Peak RSS of one encrypted backup of each database, small one first, each in a fresh child process. */
async function measureRss(target: NativeTarget, fixtures: SeededFixtures, recipients: string[], settings: BenchSettings): Promise<RssMeasurement[]> {
  const bucket = "bench-pg-rss";
  const storage = await openBenchBucket(target.s3, bucket);
  const results: RssMeasurement[] = [];
  try {
    for (const postgres of [fixtures.smallDatabase, target.postgres]) {
      logStep(`RSS child: backupPostgres() of '${postgres.database}'`);
      const result = await measureBackupRss({
        postgres,
        redis: target.redis,
        s3: { ...target.s3, bucket, prefix: "" },
        mediaDir: target.mediaDir,
        recipients,
        compressionLevel: settings.compressionLevel,
        storage: settings.storage,
      });
      logStep(`  peak RSS ${(result.maxRssBytes / MIB).toFixed(1)} MiB (before the backup ${(result.rssBeforeBytes / MIB).toFixed(1)} MiB)`);
      results.push(result);
      await emptyBucket(storage);
    }
  } finally {
    storage[Symbol.dispose]();
  }
  return results;
}

/** The command line that reproduces this run (only the bench variables that were set). */
function describeRun(): string {
  const vars = BENCH_ENV_NAMES.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`);
  return [...vars, "node bench/index.ts"].join(" ");
}

/** The native servers' versions and addresses, for the report. */
function describeServers(target: NativeTarget): Record<string, string> {
  const { postgres, redis, s3 } = target.describe();
  return { postgres, redis, s3 };
}

/** Write reports/bench.json and reports/BENCH.md. */
async function writeReports(report: BenchReport): Promise<void> {
  await mkdir(REPORT_DIR, { recursive: true });
  await writeFile(`${REPORT_DIR}bench.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(`${REPORT_DIR}BENCH.md`, renderBenchMarkdown(report));
}

/** Say loudly when the code under test has uncommitted changes: the numbers would describe that code. */
function warnIfDirty(state: SourceState, when: string): void {
  if (state.dirty.length) process.stderr.write(`bench: WARNING: src/ or fixtures/ had uncommitted changes ${when}:\n  ${state.dirty.join("\n  ")}\n`);
}

/** Run everything, stop every server whatever happens, and prove nothing is left running. */
async function main(): Promise<void> {
  const started = performance.now();
  const settings = readBenchSettings();
  const machine = await describeMachine({ pgbackrest: (await readPgbackrestVersion()).version ?? "unavailable" });
  const sourceAtStart = await readSourceState();
  warnIfDirty(sourceAtStart, "at start");
  logStep(`settings ${JSON.stringify(settings)}; load average ${machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(" ")}`);
  const scratchDir = await makeTempDir("bench");
  const target = await startNativeTarget();
  const pids = target.pids();
  let cluster: PhysicalCluster | undefined;
  try {
    const fixtures = await seedFixtures(target, settings);
    const keys = await makeIdentityFile(scratchDir);
    const recipients = keys.recipients;
    const pg: CliBenchContext = {
      target,
      databaseBytes: fixtures.databaseBytes,
      compressionLevel: settings.compressionLevel,
      recipients,
      scratchDir,
      storageOptions: settings.storage,
      identityFile: keys.file,
    };
    const media: MediaBenchContext = {
      target,
      files: fixtures.mediaFiles,
      bytes: fixtures.mediaBytes,
      recipients,
      scratchDir,
      storageOptions: settings.storage,
    };
    const notVerified: NotVerified[] = [];
    const wantsPhysical = ["pgbackrest-backup", "pgbackrest-restore", "cli-backup-physical", "cli-restore-physical"].some((id) => isSelected(settings, id));
    cluster = wantsPhysical ? await openPhysicalCluster(target) : undefined;
    if (cluster?.pgbackrestReason) notVerified.push({ what: "pgBackRest full backup and restore", reason: cluster.pgbackrestReason });
    const breakdowns: CliBreakdowns = new Map();
    const tasks = makeTasks(settings, pg, media, breakdowns, cluster);
    const summaries = await runRounds(tasks, settings.iterations, findCpuWatch(cluster ? [...pids, cluster.server.pid] : pids));
    const overhead: CliOverhead | undefined = isSelected(settings, "cli-overhead")
      ? { pieces: await measureCliPieces(pg, Math.max(3, settings.iterations)), profile: await profileCliBackup(pg) }
      : undefined;
    const rss = await measureRss(target, fixtures, recipients, settings);
    const runAge = settings.only.length === 0 || settings.only.includes("age-crypto");
    if (runAge) logStep("age encryption in this process: dr-drill vs age-encryption (tinybench)");
    const ageCrypto = runAge ? await runAgeCryptoBench() : [];
    const goals = evaluateGoals(summaries, rss, machine.cores);
    machine.loadAverageAtEnd = loadavg();
    const sourceAtEnd = await readSourceState();
    warnIfDirty(sourceAtEnd, "at end");

    console.log("");
    console.table(makeTaskRows(summaries));
    console.log("\nGoals and ratios (median times):");
    for (const line of makeGoalLines(goals)) console.log(`  ${line}`);

    const report: BenchReport = {
      formatVersion: 1,
      finishedAt: new Date().toISOString(),
      durationMs: performance.now() - started,
      machine,
      settings,
      source: { commit: sourceAtStart.commit, dirtyAtStart: sourceAtStart.dirty, dirtyAtEnd: sourceAtEnd.dirty },
      servers: describeServers(target),
      commands: {
        run: describeRun(),
        tasks: Object.fromEntries(tasks.map((t) => [t.id, t.command])),
        rssChild: describeBackupChild(),
        mediaDir: target.mediaDir,
      },
      tinybench: { rounds: settings.iterations, iterationsPerRound: 1, time: 0, warmup: false },
      fixtures: { ...fixtures, smallDatabase: fixtures.smallDatabase.database },
      tasks: summaries,
      rss,
      ageCrypto,
      goals,
      restoreJobs: defaultRestoreJobs(),
      breakdowns: Object.fromEntries(breakdowns),
      overhead,
      notVerified,
      physical: cluster ? { pgbackrestSettings: cluster.pgbackrestSettings, clusterBytes: cluster.clusterBytes } : undefined,
    };
    await writeReports(report);
    logStep(`wrote ${REPORT_DIR}bench.json and BENCH.md after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await cluster?.stop();
    await target.stop();
    await rm(scratchDir, { recursive: true, force: true });
    const live = await findLivePids(pids);
    if (live.length) process.stderr.write(`bench: processes still running after stop: ${live.join(", ")}\n`);
    else logStep(`stopped every server (pids ${pids.join(", ")} gone)`);
  }
}

await main();
