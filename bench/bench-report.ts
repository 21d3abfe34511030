import { type AgeCryptoCase, makeAgeCryptoRows } from "./age-crypto.ts";
import type { BenchSettings } from "./bench-settings.ts";
import type { GoalReport } from "./evaluate-goals.ts";
import type { MachineInfo } from "./machine-info.ts";
import type { RssMeasurement } from "./measure-backup-rss.ts";
import type { SeededFixtures } from "./seed-fixtures.ts";
import { median, type TaskSummary } from "./summarize-task.ts";
import type { CliOverhead } from "./cli-overhead.ts";
import { gbPerMinute, medianSlices, type TimeSlice } from "./cli-steps.ts";
import type { ProfileSummary } from "./cpu-profile.ts";

/** Something the issue asks for that this run could not measure, and why. */
export interface NotVerified {
  what: string;
  reason: string;
}

/** Everything one `node bench/index.ts` run measured: reports/bench.json is this object. */
export interface BenchReport {
  formatVersion: 1;
  /** When the run finished, ISO time. */
  finishedAt: string;
  /** Wall time of the whole run, seeding included, ms. */
  durationMs: number;
  machine: MachineInfo;
  settings: BenchSettings;
  /** The commit measured, and uncommitted changes to src/ or fixtures/ (should be empty). */
  source: { commit: string; dirtyAtStart: string[]; dirtyAtEnd: string[] };
  /** Where the servers came from (native target description). */
  servers: Record<string, string>;
  /** How to run it again, and every command timed (secrets are in env, never shown). */
  commands: {
    run: string;
    tasks: Record<string, string>;
    rssChild: string;
    /** What MEDIA_DIR stood for (a temporary folder of the native target). */
    mediaDir: string;
  };
  /** How tinybench ran: `rounds` Bench runs over all tasks, one iteration per task each. */
  tinybench: { rounds: number; iterationsPerRound: number; time: number; warmup: boolean };
  fixtures: Omit<SeededFixtures, "smallDatabase"> & { smallDatabase: string };
  tasks: TaskSummary[];
  rss: RssMeasurement[];
  /** age encryption in this process, dr-drill vs age-encryption (empty when BENCH_ONLY left it out). */
  ageCrypto: AgeCryptoCase[];
  goals: GoalReport;
  /** pg_restore --jobs of every restore task (dr-drill's default here). */
  restoreJobs: number;
  /** Per CLI task (`cli-backup`, `cli-restore`), every iteration's cut of its wall time. */
  breakdowns: Record<string, TimeSlice[][]>;
  /** Where the CLI's extra seconds go (undefined when BENCH_ONLY left it out). */
  overhead: CliOverhead | undefined;
  /** What was not measured, with the reason. */
  notVerified: NotVerified[];
  /** The copy cluster the physical tools worked on. */
  physical: { pgbackrestSettings: string; clusterBytes: number } | undefined;
}

const MIB = 1024 * 1024;

/** `12.34 s` for a duration in ms. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** `1.20 0.80 0.50`. */
function formatLoad(load: readonly number[]): string {
  return load.map((l) => l.toFixed(2)).join(" ");
}

/** A ratio as `1.23x`. */
function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "n/a";
}

/** Rows for console.table: one per task. */
export function makeTaskRows(tasks: readonly TaskSummary[]): Record<string, string>[] {
  return tasks.map((t) => ({
    task: t.name,
    median: formatSeconds(t.medianMs),
    "mean ± sd": `${formatSeconds(t.meanMs)} ± ${(t.sdMs / 1000).toFixed(2)}`,
    "min..max": `${(t.minMs / 1000).toFixed(2)}..${(t.maxMs / 1000).toFixed(2)} s`,
    "input MB/s": t.throughputMBps.toFixed(1),
    "CPU s node/tools/s3/pg": [t.medianCpu.bench, t.medianCpu.tools, t.medianCpu.s3, t.medianCpu.postgres].map((x) => x.toFixed(1)).join("/"),
    runs: String(t.samplesMs.length),
  }));
}

/** Lines stating every goal and ratio, for the terminal and the markdown. */
export function makeGoalLines(goals: GoalReport): string[] {
  const lines = goals.ratios.map((r) => {
    const goal = r.goal ? `(goal ${r.goal.op} ${formatRatio(r.goal.value).replace(/(\.\d*?)0+x$/, "$1x").replace(/\.x$/, "x")})` : "";
    const verdict = r.met === undefined ? "(informative)" : `${r.met ? "MET" : "MISSED"} ${goal}`;
    return `${r.label}: ${formatRatio(r.ratio)} (means: ${formatRatio(r.ratioOfMeans)}) ${verdict}`;
  });
  for (const l of goals.limits) {
    lines.push(`${l.label}: ${l.value.toFixed(1)} ${l.unit} ${l.met ? "MET" : "MISSED"} (goal < ${l.below} ${l.unit})`);
  }
  return lines;
}

/** A markdown table from rows of equal keys. */
function renderTable(rows: readonly Record<string, string>[]): string {
  const first = rows[0];
  if (!first) return "_no rows_\n";
  const keys = Object.keys(first);
  const escape = (cell: string) => cell.replaceAll("|", "\\|");
  return [
    `| ${keys.join(" | ")} |`,
    `| ${keys.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${keys.map((k) => escape(row[k] ?? "")).join(" | ")} |`),
  ].join("\n") + "\n";
}

/** `12.34 s` of a task's median, or `not run`. */
function medianOf(tasks: Map<string, TaskSummary>, id: string): string {
  const t = tasks.get(id);
  return t ? formatSeconds(t.medianMs) : "not run";
}

/** A CLI task's median time with the median of its process's peak RSS, when the bench measured it. */
export function medianWithPeakRss(tasks: Map<string, TaskSummary>, id: string): string {
  const rss = medianFact(tasks.get(id), "peakRssBytes");
  return rss === undefined ? medianOf(tasks, id) : `${medianOf(tasks, id)} (peak RSS ${(rss / MIB).toFixed(0)} MiB)`;
}

/** The issue's side-by-side table: one row per job, one column per tool. */
function makeSideBySideRows(report: BenchReport): Record<string, string>[] {
  const tasks = new Map(report.tasks.map((t) => [t.id, t]));
  return [
    {
      job: "back up",
      "dr-drill CLI (as a user runs it)": medianWithPeakRss(tasks, "cli-backup"),
      "dr-drill in-process backupPostgres()": medianOf(tasks, "pipeline-age"),
      "plain tool, local file": `pg_dump -Fc -Z${report.settings.compressionLevel} -f FILE: ${medianOf(tasks, "pg-dump-file")}`,
      "reference dump-then-upload": medianOf(tasks, "sequential-plain"),
      "pgBackRest full (whole cluster)": medianOf(tasks, "pgbackrest-backup"),
      "dr-drill --physical (whole cluster)": medianWithPeakRss(tasks, "cli-backup-physical"),
    },
    {
      job: "restore (the RTO)",
      "dr-drill CLI (as a user runs it)": medianOf(tasks, "cli-restore"),
      "dr-drill in-process backupPostgres()": "-",
      "plain tool, local file": `pg_restore -j${report.restoreJobs}: ${medianOf(tasks, "pg-restore-file")}`,
      "reference dump-then-upload": "-",
      "pgBackRest full (whole cluster)": `${medianOf(tasks, "pgbackrest-restore")} (restore + start until promoted)`,
      "dr-drill --physical (whole cluster)": `${medianOf(tasks, "cli-restore-physical-start")} (restore + start until promoted); ${medianOf(tasks, "cli-restore-physical")} with --verify (+ smoke checks)`,
    },
  ];
}

/** Restore rates: database bytes per minute of each restore task. */
function makeRestoreRateRows(report: BenchReport): Record<string, string>[] {
  return report.tasks.filter((t) => t.group === "postgres-restore").map((t) => ({
    task: t.name,
    "database restored": `${(t.inputBytes / 1e9).toFixed(2)} GB`,
    median: formatSeconds(t.medianMs),
    "GB/min": gbPerMinute(t.inputBytes, t.medianMs).toFixed(2),
  }));
}

/** The median of one fact over a task's iterations, or undefined when the task did not run or lacks it. */
function medianFact(task: TaskSummary | undefined, name: string): number | undefined {
  const values = (task?.facts ?? []).map((f) => f[name]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return values.length ? median(values) : undefined;
}

/** The PITR issue's WAL figures: `wal push` latency per segment, `wal stream` throughput and lag under pgbench. */
export function renderWalSection(tasks: readonly TaskSummary[]): string[] {
  const push = tasks.find((t) => t.id === "wal-push");
  const stream = tasks.find((t) => t.id === "wal-stream");
  if (!push && !stream) return [];
  const fmt = (v: number | undefined, digits: number, unit: string) => (v === undefined ? "not measured" : `${v.toFixed(digits)} ${unit}`);
  const rows: Record<string, string>[] = [];
  if (push) {
    rows.push({ measure: "wal push: time per 16 MiB segment (median of the iterations' medians)", value: fmt(medianFact(push, "msPerSegment"), 0, "ms") });
    rows.push({ measure: "wal push: slowest segment (median over iterations)", value: fmt(medianFact(push, "maxMsPerSegment"), 0, "ms") });
  }
  if (stream) {
    const mb = (v: number | undefined) => (v === undefined ? undefined : v / 1e6);
    rows.push({ measure: "wal stream: WAL archived per second, load start to the last segment in the bucket", value: fmt(medianFact(stream, "walMBps"), 1, "MB/s") });
    rows.push({ measure: "wal stream: WAL generated per second by pgbench", value: fmt(medianFact(stream, "generatedMBps"), 1, "MB/s") });
    const catchUpMs = medianFact(stream, "catchUpMs");
    rows.push({ measure: "wal stream: catch-up after the load stopped", value: fmt(catchUpMs === undefined ? undefined : catchUpMs / 1000, 1, "s") });
    rows.push({ measure: "wal stream: receiver behind the server (median / max)", value: `${fmt(mb(medianFact(stream, "receiveLagBytesMedian")), 2, "MB")} / ${fmt(mb(medianFact(stream, "receiveLagBytesMax")), 2, "MB")}` });
    rows.push({ measure: "wal stream: bucket behind the server (median / max)", value: `${fmt(mb(medianFact(stream, "archiveLagBytesMedian")), 1, "MB")} / ${fmt(mb(medianFact(stream, "archiveLagBytesMax")), 1, "MB")}` });
    rows.push({ measure: "wal stream: bucket behind the server in seconds, the live RPO (median / max)", value: `${fmt(medianFact(stream, "archiveLagSecondsMedian"), 1, "s")} / ${fmt(medianFact(stream, "archiveLagSecondsMax"), 1, "s")}` });
  }
  return ["## WAL archiving (point-in-time recovery)", "", "Medians over the rounds of each iteration's own figure (raw figures: `facts` in bench.json).", "", renderTable(rows)];
}

/** A breakdown table: median ms of each slice, with its share of the total. */
function renderSlices(slices: readonly TimeSlice[]): string {
  const total = slices.reduce((sum, s) => sum + s.ms, 0);
  return renderTable(slices.map((s) => ({ part: s.name, median: formatSeconds(s.ms), share: total > 0 ? `${((s.ms / total) * 100).toFixed(0)} %` : "" })));
}

/** Phases of the profiled backup from the watched functions' first and last appearances. */
function makeProfileTimeline(exitMs: number, p: ProfileSummary): Record<string, string>[] {
  const boot = Math.max(0, exitMs - p.durationMs);
  const main = p.firstSeenMs.main;
  const backup = p.firstSeenMs.backupPostgres;
  const manifest = p.lastSeenMs.writeManifest ?? p.lastSeenMs.backupPostgres;
  if (main === undefined || backup === undefined || manifest === undefined) return [];
  const rows: [string, number][] = [
    ["Node boot (spawn to profile start)", boot],
    ["loading the CLI's modules (profile start to main)", main],
    ["main to backupPostgres (config, repository, HeadBucket, attempt record, source check, listr)", backup - main],
    ["backupPostgres (first sample to the manifest written)", manifest - backup],
    ["after the manifest (attempt outcome, summary, exit)", p.durationMs - manifest],
  ];
  return rows.map(([phase, ms]) => ({ phase, time: formatSeconds(ms) }));
}

/** The CLI overhead section: CLI vs in-process, the cut of the CLI's wall time, the pieces timed alone, the profile. */
function renderOverhead(report: BenchReport): string[] {
  const tasks = new Map(report.tasks.map((t) => [t.id, t]));
  const cli = tasks.get("cli-backup");
  const inProcess = tasks.get("pipeline-age");
  const startup = tasks.get("cli-startup");
  const lines: string[] = ["## Where the CLI backup's seconds go", ""];
  if (cli && inProcess) {
    lines.push(
      `Same rounds: CLI backup ${formatSeconds(cli.medianMs)}, in-process backupPostgres() ${formatSeconds(inProcess.medianMs)}: ` +
        `the CLI costs ${formatSeconds(cli.medianMs - inProcess.medianMs)} more (median of each). ` +
        `${startup ? `A process that only loads the CLI (\`dr-drill --version\`) takes ${formatSeconds(startup.medianMs)}.` : ""}`,
      "",
    );
  }
  const backupRuns = report.breakdowns["cli-backup"];
  if (backupRuns?.length) {
    lines.push("The CLI backup's wall time cut at listr's `❯ Back up postgres` / `✔ Back up postgres` lines and the summary's `stored in` time (arrival times of its output; medians over the rounds):", "", renderSlices(medianSlices(backupRuns)));
  }
  const o = report.overhead;
  if (o) {
    lines.push(
      `The pieces the backup command runs around backupPostgres(), timed alone in the bench process with the CLI's DR_* environment (median of ${o.pieces.runs}):`,
      "",
      renderTable(Object.entries(o.pieces.medianMs).map(([piece, ms]) => ({ piece, median: `${ms.toFixed(1)} ms` }))),
    );
    if (o.profile) {
      const p = o.profile.profile;
      lines.push(
        `One profiled run: \`${o.profile.command}\`, ${formatSeconds(o.profile.exitMs)} from spawn to exit, profile ${formatSeconds(p.durationMs)} ` +
          "(the profile starts after Node's own boot). Sampled time of the CLI's main thread by what was on top of the stack:",
        "",
        renderTable(Object.entries(p.byCategory).sort((a, b) => b[1] - a[1]).map(([category, ms]) => ({ category, time: formatSeconds(ms) }))),
        `Before \`main\` first ran (${formatSeconds(p.firstSeenMs.main ?? 0)} after the profile's start; Node's own boot before the profile adds ${formatSeconds(Math.max(0, o.profile.exitMs - p.durationMs))}), the start-up's sampled time:`,
        "",
        renderTable(Object.entries(p.startupByCategory).sort((a, b) => b[1] - a[1]).map(([category, ms]) => ({ category, time: formatSeconds(ms) }))),
        "The profiled run's timeline from when each phase's function was first on a sampled stack:",
        "",
        renderTable(makeProfileTimeline(o.profile.exitMs, p)),
        "When each phase's function was first and last on a sampled stack (s after the profile's start):",
        "",
        renderTable(Object.keys(p.firstSeenMs).sort((a, b) => (p.firstSeenMs[a] ?? 0) - (p.firstSeenMs[b] ?? 0)).map((fn) => ({
          function: fn,
          "first seen": formatSeconds(p.firstSeenMs[fn] ?? 0),
          "last seen": formatSeconds(p.lastSeenMs[fn] ?? 0),
        }))),
      );
    }
  }
  return lines;
}

/** The short human summary written to reports/BENCH.md. */
export function renderBenchMarkdown(report: BenchReport): string {
  const m = report.machine;
  const f = report.fixtures;
  const rssRows = report.rss.map((r) => ({
    database: r.database,
    "database MB": (r.databaseBytes / 1e6).toFixed(0),
    "stored MB": (r.storedBytes / 1e6).toFixed(1),
    "RSS before backup MiB": (r.rssBeforeBytes / MIB).toFixed(1),
    "peak RSS MiB": (r.maxRssBytes / MIB).toFixed(1),
    "backup time": formatSeconds(r.durationMs),
  }));
  return [
    "# dr-drill benchmarks",
    "",
    `Run finished ${report.finishedAt}, took ${formatSeconds(report.durationMs)} in all. Raw numbers: \`reports/bench.json\`.`,
    "",
    `Machine: ${m.cores} cores (${m.cpuModel}), ${(m.totalMemoryBytes / 1024 ** 3).toFixed(1)} GiB RAM, ${m.os}, Node ${m.node}; ` +
      `${Object.entries(m.tools).map(([k, v]) => `${k}: ${v}`).join("; ")}.`,
    `Servers (all on 127.0.0.1): ${Object.values(report.servers).join("; ")}.`,
    "",
    `Code measured: commit ${report.source.commit}${
      report.source.dirtyAtStart.length || report.source.dirtyAtEnd.length
        ? ` **with uncommitted changes** (${[...new Set([...report.source.dirtyAtStart, ...report.source.dirtyAtEnd])].join(", ")})`
        : ", src/ and fixtures/ clean at start and end"
    }.`,
    "",
    `Command: \`${report.commands.run}\` (\`pnpm bench\` runs the same). tinybench: ${report.tinybench.rounds} rounds, each one Bench run over every task ` +
      `with ${report.tinybench.iterationsPerRound} iteration (time budget ${report.tinybench.time}, warmup ${report.tinybench.warmup}), so tools take turns. ` +
      `Load average (1/5/15 min) at start ${formatLoad(m.loadAverageAtStart)}, at end ${formatLoad(m.loadAverageAtEnd)} ` +
      `(the end figure counts the bench's own work: pgbench's clients, pg_restore's jobs; a 1-minute load above ${m.cores} before the bench starts means other work shared the CPUs).` +
      ((m.loadAverageAtStart[0] ?? 0) > m.cores
        ? ` **The load was above the ${m.cores} cores before the bench started: other work shared the machine during this run, so every time here is inflated; the ratios, from interleaved rounds, are less affected than the absolute times.**`
        : ""),
    "",
    `Fixtures: database ${(f.databaseBytes / 1e6).toFixed(0)} MB (pg_database_size), small database ${(f.smallDatabaseBytes / 1e6).toFixed(0)} MB, ` +
      `${f.mediaFiles} media files of ${(f.mediaBytes / 1e6).toFixed(0)} MB (largest ${(f.largestMediaFileBytes / 1e6).toFixed(2)} MB, ${f.mediaExcluded} clutter files excluded by both tools); ` +
      `pg_dump level -Z${report.settings.compressionLevel}.`,
    "",
    "## What users run, side by side (medians)",
    "",
    `pg_restore --jobs=${report.restoreJobs} in every logical restore (dr-drill's default on ${m.cores} cores). ` +
      (report.physical ? `The physical tools work on a pg_basebackup copy of the bench cluster (all its databases, ${(report.physical.clusterBytes / 1e9).toFixed(2)} GB) with archive_mode on; pgBackRest settings: ${report.physical.pgbackrestSettings}. ` : "") +
      "dump-then-upload is the reference's script: pg_dump to a file, then the file uploaded with the AWS SDK (no encryption). " +
      "The S3 endpoint is fauxqs with patches/fauxqs@2.4.1.patch: a GET streams the object from its file, as S3 and Ceph RGW do (published, fauxqs read the whole object into memory before its first byte); pgBackRest's repository is a local folder. " +
      "Peak RSS beside a CLI backup: the dr-drill process's own (process.resourceUsage().maxRSS, printed at its exit by bench/peak-rss-preload.ts; zstd and pg_dump not included), median over the rounds.",
    "",
    renderTable(makeSideBySideRows(report)),
    ...(report.notVerified.length ? ["**Not verified:**", "", ...report.notVerified.map((n) => `- ${n.what}: ${n.reason}`), ""] : []),
    "## Goals and ratios",
    "",
    "Each ratio is a time of the reference side (pg_dump, sequential, rclone, unencrypted) divided by the time of dr-drill's side, " +
      "from medians (means in brackets; exact formulas in bench.json): > 1 means dr-drill's side is faster. Throughput = input bytes / time.",
    "",
    ...makeGoalLines(report.goals).map((line) => `- ${line}`),
    "",
    "## Restore rate and where the restore's time goes",
    "",
    renderTable(makeRestoreRateRows(report)),
    ...(report.breakdowns["cli-restore"]?.length
      ? ["dr-drill's logical restore cut at its own step lines (`… step` / `✔ step (time)`, arrival times; medians over the rounds):", "", renderSlices(medianSlices(report.breakdowns["cli-restore"]))]
      : []),
    ...renderOverhead(report),
    ...renderWalSection(report.tasks),
    "## Timings",
    "",
    "CPU columns: median CPU seconds per iteration of this Node process (the dr-drill pipeline runs in it), its finished children " +
      "(pg_dump, rclone), the fauxqs S3 emulator and PostgreSQL (postmaster + finished backends).",
    "",
    renderTable(makeTaskRows(report.tasks)),
    "## Peak RSS of one backup (child process)",
    "",
    renderTable(rssRows),
    "## age encryption in this process (tinybench)",
    "",
    "dr-drill's encryptBuffer/encryptStream/decryptStream (X25519 and payload on node:crypto, age-encryption for other recipient types " +
      "and for reading headers) against age-encryption's own Encrypter/Decrypter on the same random bytes, one recipient, " +
      "time budget 2 s per task after warmup (`node bench/age-crypto.ts` runs this part alone).",
    "",
    report.ageCrypto.length ? renderTable(makeAgeCryptoRows(report.ageCrypto)) : "_not run (BENCH_ONLY)_\n",
    "## What each task runs",
    "",
    `MEDIA_DIR is \`${report.commands.mediaDir}\` (removed after the run).`,
    "",
    ...report.tasks.map((t) => `- **${t.name}**: \`${t.command}\`. ${t.notes}.`),
    `- **RSS child**: \`${report.commands.rssChild}\` with endpoints as JSON on stdin; one backupPostgres() with age; reports process.resourceUsage().maxRSS.`,
    "",
  ].join("\n");
}
