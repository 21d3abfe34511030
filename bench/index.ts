// `pnpm bench` (node bench/index.ts): the Backups issue's benchmarks side by side in one run.
// Starts the native target (PostgreSQL, Redis, fauxqs on 127.0.0.1), seeds the fixtures, times
// every task with tinybench, measures the peak RSS of one backup in a child process, prints a
// table and the ratios, writes reports/bench.json and reports/BENCH.md, and stops everything.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { Bench } from "tinybench";
import { makeTempDir } from "../src/lifecycle/index.ts";
import { startNativeTarget } from "../src/targets/native/native-target.ts";
import type { NativeTarget } from "../src/targets/native/native-target.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { makeGoalLines, makeTaskRows, renderBenchMarkdown, type BenchReport } from "./bench-report.ts";
import { BENCH_ENV_NAMES, readBenchSettings, type BenchSettings } from "./bench-settings.ts";
import type { BenchTask } from "./bench-task.ts";
import { evaluateGoals } from "./evaluate-goals.ts";
import { describeMachine } from "./machine-info.ts";
import { describeBackupChild, measureBackupRss, type RssMeasurement } from "./measure-backup-rss.ts";
import { makeDrDrillMediaTask, makeRcloneTask, type MediaBenchContext } from "./media-tasks.ts";
import { makeDumpThenUploadTask, makePgDumpFileTask, makePipelineTask, type PostgresBenchContext } from "./postgres-tasks.ts";
import { logStep, seedFixtures, type SeededFixtures } from "./seed-fixtures.ts";
import { summarizeTask, type TaskSummary } from "./summarize-task.ts";
import { findLivePids } from "./live-pids.ts";
import { flushDisks } from "./settle-machine.ts";

const REPORT_DIR = fileURLToPath(new URL("../reports/", import.meta.url));
const MIB = 1024 * 1024;

/** The tasks of the run, in the order they are timed: PostgreSQL first, then media. */
function makeTasks(settings: BenchSettings, pg: PostgresBenchContext, media: MediaBenchContext): BenchTask[] {
  const plain = settings.plainVariants;
  const all = [
    makePgDumpFileTask(pg),
    makePipelineTask(pg, true),
    ...(plain ? [makePipelineTask(pg, false)] : []),
    makeDumpThenUploadTask(pg, false),
    ...(plain ? [makeDumpThenUploadTask(pg, true)] : []),
    makeDrDrillMediaTask(media, { encrypted: true, firstSync: true }),
    ...(plain ? [makeDrDrillMediaTask(media, { encrypted: false, firstSync: true })] : []),
    makeRcloneTask(media, true),
    makeDrDrillMediaTask(media, { encrypted: true, firstSync: false }),
    ...(plain ? [makeDrDrillMediaTask(media, { encrypted: false, firstSync: false })] : []),
    makeRcloneTask(media, false),
  ];
  return settings.only.length ? all.filter((task) => settings.only.some((id) => task.id.startsWith(id))) : all;
}

/** Time every task with tinybench: few, expensive iterations, no warmup, the first error stops the run. */
async function runTasks(tasks: readonly BenchTask[], iterations: number): Promise<TaskSummary[]> {
  const bench = new Bench({ name: "dr-drill backups", iterations, time: 0, warmup: false, throws: true, retainSamples: true });
  for (const task of tasks) {
    bench.add(task.name, task.run, {
      beforeAll: async () => {
        logStep(`task: ${task.name}`);
        await task.beforeAll?.();
      },
      beforeEach: async () => {
        await task.beforeEach?.();
        await flushDisks();
      },
      afterEach: async () => {
        await task.afterEach?.();
        logStep(`  iteration done`);
      },
      afterAll: task.afterAll,
    });
  }
  await bench.run();
  console.table(bench.table());
  return tasks.map((task) => {
    const timed = bench.getTask(task.name);
    if (!timed) throw new Error(`unable to find task '${task.name}' in the bench`);
    return summarizeTask(task, timed);
  });
}

/** Peak RSS of one encrypted backup of each database, each in a fresh child process. */
async function measureRss(target: NativeTarget, fixtures: SeededFixtures, recipients: string[], settings: BenchSettings): Promise<RssMeasurement[]> {
  const storage = await openBenchBucket(target.s3, "bench-pg-rss");
  const results: RssMeasurement[] = [];
  try {
    for (const postgres of [fixtures.smallDatabase, target.postgres]) {
      logStep(`RSS child: backupPostgres() of '${postgres.database}'`);
      const result = await measureBackupRss({
        postgres,
        redis: target.redis,
        s3: { ...target.s3, bucket: "bench-pg-rss", prefix: "" },
        mediaDir: target.mediaDir,
        recipients,
        compressionLevel: settings.compressionLevel,
        storage: settings.storage,
      });
      logStep(`  peak RSS ${(result.maxRssBytes / MIB).toFixed(1)} MiB`);
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

/** Run everything, stop every server whatever happens, and prove nothing is left running. */
async function main(): Promise<void> {
  const started = performance.now();
  const settings = readBenchSettings();
  const storageOptions = settings.storage;
  const machine = await describeMachine();
  logStep(`settings ${JSON.stringify(settings)}`);
  const scratchDir = await makeTempDir("bench");
  const target = await startNativeTarget();
  const pids = target.pids();
  try {
    const fixtures = await seedFixtures(target, settings);
    const recipients = [await identityToRecipient(await generateIdentity())];
    const pg: PostgresBenchContext = {
      target,
      databaseBytes: fixtures.databaseBytes,
      compressionLevel: settings.compressionLevel,
      recipients,
      scratchDir,
      storageOptions,
    };
    const media: MediaBenchContext = { target, files: fixtures.mediaFiles, bytes: fixtures.mediaBytes, recipients, scratchDir, storageOptions };
    const tasks = makeTasks(settings, pg, media);
    const summaries = await runTasks(tasks, settings.iterations);
    const rss = await measureRss(target, fixtures, recipients, settings);
    const goals = evaluateGoals(summaries, rss);

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
      servers: describeServers(target),
      commands: {
        run: describeRun(),
        tasks: Object.fromEntries(tasks.map((t) => [t.id, t.command])),
        rssChild: describeBackupChild(),
      },
      tinybench: { iterations: settings.iterations, time: 0, warmup: false },
      fixtures: { ...fixtures, smallDatabase: fixtures.smallDatabase.database },
      tasks: summaries,
      rss,
      goals,
    };
    await writeReports(report);
    logStep(`wrote ${REPORT_DIR}bench.json and BENCH.md in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await target.stop();
    await rm(scratchDir, { recursive: true, force: true });
    const live = await findLivePids(pids);
    if (live.length) process.stderr.write(`bench: processes still running after stop: ${live.join(", ")}\n`);
    else logStep(`stopped every server (pids ${pids.join(", ")} gone)`);
  }
}

await main();
