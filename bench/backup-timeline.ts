// Why the streaming backup is slower than it could be: one backupPostgres() per variant, sampled
// every 200 ms — this process's main-thread event-loop utilisation and CPU, pg_dump's CPU and
// whether it sat blocked writing to its stdout pipe (backpressure from this process), the
// PostgreSQL backends' and the S3 emulator's CPU — then pg_dump alone to a file for comparison.
//   node bench/backup-timeline.ts        # 1 GB fixture (BENCH_PG_SIZE), variants gzip1,zstd1 (BENCH_TIMELINE_VARIANTS)
import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { postgresEnv } from "../src/clients/index.ts";
import type { BackupContext } from "../src/components/backup-context.ts";
import type { DumpCompression } from "../src/components/postgres/dump-compression.ts";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import { buildConfig } from "../src/config/load-config.ts";
import { runCommand } from "../src/exec/index.ts";
import { makeTempDir } from "../src/lifecycle/index.ts";
import { startNativeTarget } from "../src/targets/native/native-target.ts";
import { seedPostgres } from "../fixtures/index.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { makeIdentityFile } from "./bench-keys.ts";
import { readBenchSettings } from "./bench-settings.ts";
import { findCpuWatch } from "./cpu-usage.ts";
import { logStep } from "./log-step.ts";
import { settleDatabase } from "./settle-machine.ts";

const SAMPLE_MS = 200;
const TICKS_PER_SECOND = 100;

/** One process's /proc facts: parent, command name, CPU seconds (own), kernel wait channel. */
interface ProcFacts {
  pid: number;
  ppid: number;
  comm: string;
  cpu: number;
  state: string;
}

/** Every process of the machine that can be read now. */
function readProcesses(): ProcFacts[] {
  const out: ProcFacts[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(name), ppid: Number(fields[1]), comm, cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND, state: fields[0] ?? "?" });
    } catch {
      // Gone between readdir and read.
    }
  }
  return out;
}

/** The kernel function a process sleeps in (`pipe_write`, `pipe_read`, `do_epoll_wait`...). */
function readWchan(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/wchan`, "utf8");
  } catch {
    return "";
  }
}

/** Samples of one run, summed. */
interface Timeline {
  samples: number;
  /** CPU seconds over the run: this process, pg_dump, PostgreSQL backends, S3 emulator. */
  cpu: { node: number; pgDump: number; postgres: number; s3: number };
  /** Samples in which pg_dump slept in pipe_write (its stdout full: this process not reading). */
  dumpBlockedOnPipe: number;
  /** Samples in which pg_dump was running or runnable. */
  dumpRunning: number;
  /** Samples in which pg_dump slept elsewhere (waiting for its backend's rows). */
  dumpWaitingOther: number;
  /** Mean event-loop utilisation of this process's main thread. */
  elu: number;
  /** Samples with the main thread busy > 90 %. */
  eluSaturated: number;
}

/** Sample the machine until stop() is called. */
function startSampling(postgresPid: number | undefined, s3Pid: number | undefined): { stop: () => Timeline } {
  const timeline: Timeline = { samples: 0, cpu: { node: 0, pgDump: 0, postgres: 0, s3: 0 }, dumpBlockedOnPipe: 0, dumpRunning: 0, dumpWaitingOther: 0, elu: 0, eluSaturated: 0 };
  let lastCpu = new Map<number, number>();
  let lastElu = performance.eventLoopUtilization();
  let lastSelf = process.cpuUsage();
  let eluSum = 0;
  const tick = (): void => {
    const procs = readProcesses();
    const cpu = new Map(procs.map((p) => [p.pid, p.cpu]));
    const delta = (pid: number): number => (cpu.get(pid) ?? 0) - (lastCpu.get(pid) ?? cpu.get(pid) ?? 0);
    for (const p of procs) {
      if (p.ppid === process.pid && p.comm === "pg_dump") {
        timeline.cpu.pgDump += (cpu.get(p.pid) ?? 0) - (lastCpu.get(p.pid) ?? 0);
        if (p.state === "R") timeline.dumpRunning += 1;
        else if (readWchan(p.pid).includes("pipe_write")) timeline.dumpBlockedOnPipe += 1;
        else timeline.dumpWaitingOther += 1;
      }
      if (postgresPid && (p.pid === postgresPid || p.ppid === postgresPid)) timeline.cpu.postgres += delta(p.pid);
      if (s3Pid && (p.pid === s3Pid || p.ppid === s3Pid)) timeline.cpu.s3 += delta(p.pid);
    }
    const elu = performance.eventLoopUtilization(lastElu);
    lastElu = performance.eventLoopUtilization();
    eluSum += elu.utilization;
    if (elu.utilization > 0.9) timeline.eluSaturated += 1;
    const self = process.cpuUsage(lastSelf);
    lastSelf = process.cpuUsage();
    timeline.cpu.node += (self.user + self.system) / 1e6;
    timeline.samples += 1;
    lastCpu = cpu;
  };
  const timer = setInterval(tick, SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(timer);
      tick();
      timeline.elu = eluSum / Math.max(1, timeline.samples);
      return timeline;
    },
  };
}

/** The timeline as one line a reader can compare across variants. */
function describeTimeline(name: string, seconds: number, t: Timeline): string {
  const share = (n: number) => `${Math.round((100 * n) / Math.max(1, t.samples))} %`;
  return `${name}: ${seconds.toFixed(2)} s; CPU s node ${t.cpu.node.toFixed(1)}, pg_dump ${t.cpu.pgDump.toFixed(1)}, postgres ${t.cpu.postgres.toFixed(1)}, s3 ${t.cpu.s3.toFixed(1)} (sum ${(t.cpu.node + t.cpu.pgDump + t.cpu.postgres + t.cpu.s3).toFixed(1)} on ${cpus().length} cores); pg_dump running ${share(t.dumpRunning)}, blocked on its stdout pipe ${share(t.dumpBlockedOnPipe)}, waiting for rows ${share(t.dumpWaitingOther)}; main thread busy ${Math.round(t.elu * 100)} % (saturated ${share(t.eluSaturated)})`;
}

/** Seed once, then per round: each variant's backup sampled, then pg_dump alone to a file sampled. */
async function main(): Promise<void> {
  const settings = readBenchSettings();
  const variants: DumpCompression[] = (process.env.BENCH_TIMELINE_VARIANTS ?? "gzip1,zstd1").split(",").map((v) => {
    const match = /^(gzip|zstd)(\d+)$/.exec(v.trim());
    if (!match) throw new Error(`unable to read setting 'BENCH_TIMELINE_VARIANTS': '${v}' is not gzipN or zstdN`);
    return { method: match[1] === "gzip" ? "pg_dump" : "zstd", level: Number(match[2]) };
  });
  logStep(`backup timeline: ${(settings.pgBytes / 1e6).toFixed(0)} MB, ${settings.iterations} rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const scratchDir = await makeTempDir("bench-timeline");
  const target = await startNativeTarget();
  try {
    const seeded = await seedPostgres(target.postgres, { targetBytes: settings.pgBytes, seed: settings.seed });
    await settleDatabase(target.postgres);
    logStep(`seeded ${(seeded.databaseBytes / 1e6).toFixed(0)} MB`);
    const keys = await makeIdentityFile(scratchDir);
    const watch = findCpuWatch(target.pids());
    const storage = await openBenchBucket(target.s3, "bench-timeline", settings.storage);
    const config = buildConfig(undefined, {});
    const ctx: BackupContext = { storage, config, postgres: target.postgres, redis: target.redis, mediaDir: target.mediaDir, recipients: keys.recipients };
    for (let round = 1; round <= settings.iterations; round++) {
      for (const compression of variants) {
        await emptyBucket(storage);
        await runCommand("sync", [], { timeoutMs: 120_000 });
        const sampling = startSampling(watch.postgresPid, watch.s3Pid);
        const started = performance.now();
        const manifest = await backupPostgres(ctx, { compression });
        const seconds = (performance.now() - started) / 1000;
        logStep(`${describeTimeline(`round ${round} backupPostgres ${manifest.compression}`, seconds, sampling.stop())}; stored ${(manifest.storedBytes / 1e6).toFixed(1)} MB`);
      }
      const file = join(scratchDir, "alone.dump");
      for (const level of [...new Set(variants.map((v) => (v.method === "zstd" ? 0 : v.level)))]) {
        await runCommand("sync", [], { timeoutMs: 120_000 });
        const sampling = startSampling(watch.postgresPid, watch.s3Pid);
        const started = performance.now();
        await runCommand("pg_dump", ["-Fc", `-Z${level}`, "-f", file], { env: postgresEnv(target.postgres), timeoutMs: 3_600_000 });
        logStep(describeTimeline(`round ${round} pg_dump -Fc -Z${level} -f FILE alone`, (performance.now() - started) / 1000, sampling.stop()));
        await rm(file, { force: true });
      }
    }
    await emptyBucket(storage);
    storage[Symbol.dispose]();
    logStep(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    await target.stop();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

await main();
