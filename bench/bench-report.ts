import { type AgeCryptoCase, makeAgeCryptoRows } from "./age-crypto.ts";
import type { BenchSettings } from "./bench-settings.ts";
import type { GoalReport } from "./evaluate-goals.ts";
import type { MachineInfo } from "./machine-info.ts";
import type { RssMeasurement } from "./measure-backup-rss.ts";
import type { SeededFixtures } from "./seed-fixtures.ts";
import type { TaskSummary } from "./summarize-task.ts";

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
    const verdict = r.met === undefined ? "(informative)" : r.met ? `MET (goal ${r.goal?.op} ${r.goal?.value}x)` : `MISSED (goal ${r.goal?.op} ${r.goal?.value}x)`;
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
      `(a load above ${m.cores} before the bench starts means other work shared the CPUs).`,
    "",
    `Fixtures: database ${(f.databaseBytes / 1e6).toFixed(0)} MB (pg_database_size), small database ${(f.smallDatabaseBytes / 1e6).toFixed(0)} MB, ` +
      `${f.mediaFiles} media files of ${(f.mediaBytes / 1e6).toFixed(0)} MB (largest ${(f.largestMediaFileBytes / 1e6).toFixed(2)} MB, ${f.mediaExcluded} clutter files excluded by both tools); ` +
      `pg_dump level -Z${report.settings.compressionLevel}.`,
    "",
    "## Goals and ratios",
    "",
    "Each ratio is a time of the reference side (pg_dump, sequential, rclone, unencrypted) divided by the time of dr-drill's side, " +
      "from medians (means in brackets; exact formulas in bench.json): > 1 means dr-drill's side is faster. Throughput = input bytes / time.",
    "",
    ...makeGoalLines(report.goals).map((line) => `- ${line}`),
    "",
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
