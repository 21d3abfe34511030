import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectPostgres, postgresEnv } from "../src/clients/postgres-client.ts";
import { listWalArchive } from "../src/components/wal/wal-archive.ts";
import { walKey } from "../src/components/wal/wal-names.ts";
import { describeCommand, findBinary, runCommand, startCommand } from "../src/exec/index.ts";
import { waitUntil } from "../src/lifecycle/index.ts";
import type { S3Storage } from "../src/storage/index.ts";
import { startNativePostgres, type NativePostgres } from "../src/targets/native/native-postgres.ts";
import type { PostgresEndpoint } from "../src/targets/target.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import type { BenchTask } from "./bench-task.ts";
import { CLI_BIN, type CliRepository, describeCli, makeCliEnv, REPO_ROOT } from "./cli-process.ts";
import type { CliBenchContext } from "./cli-tasks.ts";
import { logStep } from "./log-step.ts";
import { median } from "./summarize-task.ts";

const SEGMENT_BYTES = 16 * 1024 * 1024;
/** pgbench run per iteration, seconds (BENCH_WAL_LOAD_S overrides). */
const DEFAULT_LOAD_S = 20;
/** pgbench scale of the stream's own database (BENCH_WAL_PGBENCH_SCALE overrides): about 15 MB per unit. */
const DEFAULT_SCALE = 10;
const SAMPLE_MS = 500;
/**
 * Half of the load's transactions (beside pgbench's TPC-B-like one): 500 history rows at
 * once, so the WAL rate is set by the CPUs, not by per-transaction overhead alone, and the
 * stream has megabytes per second to carry.
 */
const BULK_INSERT = "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime, filler) SELECT 1, 1, g, 0, now(), 'bulk' FROM generate_series(1, 500) g;";

/** One look at the server and the bucket while the load runs. */
interface LagSample {
  atMs: number;
  /** pg_current_wal_lsn() as a byte position. */
  serverLsn: number;
  /** What pg_receivewal reported flushed to its spool (pg_stat_replication.flush_lsn). */
  receivedLsn: number;
  /** Date.now() of the sample (object times in the bucket are wall-clock times). */
  wallMs: number;
  /**
   * How far the bucket holds WAL: the end of the newest finished segment, or, when the
   * streamer's `.partial` of the next segment is newer, what the receiver had flushed at a
   * sample taken at least a second before that object was stored (S3 times have 1 s
   * precision), so never more than the object can hold.
   */
  archivedLsn: number;
}

/** `0/3000028` as a number of bytes (WAL positions of a bench stay far below 2^53). */
function lsnBytes(lsn: string): number {
  const [hi, lo] = lsn.split("/");
  return Number.parseInt(hi!, 16) * 2 ** 32 + Number.parseInt(lo!, 16);
}

/** How far the bucket holds WAL of timeline 1 (see LagSample.archivedLsn), given the samples so far. */
async function readArchivedLsn(storage: S3Storage, samples: readonly LagSample[]): Promise<number> {
  const archive = await listWalArchive(storage, SEGMENT_BYTES);
  const segments = [...(archive.segments.get(1)?.keys() ?? [])];
  const finished = segments.length ? (Number(segments.reduce((a, b) => (a > b ? a : b))) + 1) * SEGMENT_BYTES : 0;
  let covered = finished;
  for (const [segment, file] of archive.partials.get(1) ?? []) {
    const start = Number(segment) * SEGMENT_BYTES;
    const before = samples.filter((s) => s.wallMs <= file.lastModified - 1000 && s.receivedLsn >= start);
    if (before.length === 0) continue;
    covered = Math.max(covered, Math.min(start + SEGMENT_BYTES, Math.max(...before.map((s) => s.receivedLsn))));
  }
  return covered;
}

/** Seconds the bucket is behind at a sample: how long ago the server had first written past what the bucket now holds. */
function archiveLagSeconds(samples: readonly LagSample[], sample: LagSample): number {
  if (sample.archivedLsn >= sample.serverLsn) return 0;
  const first = samples.find((s) => s.serverLsn > sample.archivedLsn);
  return first ? (sample.atMs - first.atMs) / 1000 : 0;
}

/**
 * `dr-drill wal stream` under a pgbench write load: the CLI streamer runs for the whole
 * bench (started untimed, as the systemd unit runs it) against a server of its own with a
 * pgbench database; each iteration runs `pgbench -c 4 -j 2 -T N`, TPC-B-like transactions and
 * 500-row inserts half and half (synchronous_commit off, so the load is bound by the CPUs
 * rather than by fsync) and, when it ends, switches
 * segments and waits until the last segment holding the load's WAL is a finished object in
 * the bucket. Timed: the load plus that catch-up. Every 500 ms, until then, it samples how far behind
 * pg_current_wal_lsn() the receiver (pg_stat_replication.flush_lsn: in the spool) and the
 * bucket (finished segments, and the `.partial` uploads, conservatively) are, in bytes and in
 * seconds. Throughput: WAL bytes of
 * the iteration / timed seconds. The table's input is the WAL one iteration produced (median).
 */
export function makeWalStreamTask(ctx: CliBenchContext): BenchTask {
  const bucket = "bench-wal-stream";
  const loadSeconds = Number(process.env.BENCH_WAL_LOAD_S ?? DEFAULT_LOAD_S);
  const scale = Number(process.env.BENCH_WAL_PGBENCH_SCALE ?? DEFAULT_SCALE);
  const facts: Record<string, number>[] = [];
  const spool = join(ctx.scratchDir, "wal-spool-stream");
  let server: NativePostgres | undefined;
  let storage: S3Storage | undefined;
  let streamer: ReturnType<typeof startCommand> | undefined;
  const bulkScript = join(ctx.scratchDir, "wal-stream-bulk.sql");
  const pgbenchArgs = ["--no-vacuum", "--client=4", "--jobs=2", `--time=${loadSeconds}`, "--protocol=prepared", "--builtin=tpcb-like@1", `--file=${bulkScript}@1`];
  // Commits do not wait for the local flush: the load writes WAL as fast as the CPUs allow, not at the disk's fsync rate.
  const loadEnv = (endpoint: PostgresEndpoint) => ({ ...postgresEnv(endpoint), PGOPTIONS: "-c synchronous_commit=off" });
  const task: BenchTask = {
    id: "wal-stream",
    name: `node bin/dr-drill.js wal stream under pgbench (${loadSeconds} s, 4 clients)`,
    group: "postgres",
    command: `${describeCli(["wal", "stream", "--spool", "DIR"])} running; timed: PGOPTIONS='-c synchronous_commit=off' ${describeCommand("pgbench", pgbenchArgs.map((a) => a.replace(bulkScript, "BULK.sql")))} (BULK.sql: ${BULK_INSERT}) then pg_switch_wal() until that segment is in the bucket`,
    notes: `a server of its own (pgbench -i -s ${scale}), the streamer's default upload interval; lag sampled every ${SAMPLE_MS} ms; WAL MB/s, lag bytes/seconds (receiver and bucket) in the facts`,
    inputBytes: 0,
    facts,
    setup: async () => {
      logStep(`wal stream: starting a server of its own and pgbench -i -s ${scale}`);
      server = await startNativePostgres({ label: "pg-wal-stream", database: "pgbench" });
      const endpoint = { ...server.endpoint, database: "pgbench" };
      await runCommand(findBinary("pgbench"), ["--initialize", `--scale=${scale}`, "--quiet"], { env: postgresEnv(endpoint), timeoutMs: 30 * 60_000 });
      await writeFile(bulkScript, `${BULK_INSERT}\n`);
      storage = await openBenchBucket(ctx.target.s3, bucket, ctx.storageOptions);
      await emptyBucket(storage);
      const repo: CliRepository = { s3: ctx.target.s3, bucket, identityFile: ctx.identityFile, stateDir: join(ctx.scratchDir, "state-wal-stream") };
      const log = join(ctx.scratchDir, "wal-stream.log");
      streamer = startCommand(process.execPath, [CLI_BIN, "wal", "stream", "--spool", spool], { env: makeCliEnv(repo, endpoint), cwd: REPO_ROOT, timeoutMs: 0, logFile: log });
      streamer.catch(() => undefined);
      // Untimed: the streamer is receiving (its slot active), then stores the segment it started in.
      const admin = await connectPostgres(endpoint);
      try {
        await waitUntil(async () => ((await admin.query("SELECT 1 FROM pg_replication_slots WHERE active")).rowCount ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
        const { rows } = await admin.query<{ name: string }>("SELECT pg_walfile_name(pg_current_wal_lsn()) AS name, pg_switch_wal()");
        await waitUntil(async () => ((await storage!.stat(walKey(rows[0]!.name))) ? true : undefined), { timeoutMs: 120_000, intervalMs: 500 }).catch(async (error: unknown) => {
          throw new Error(`unable to start the bench's WAL stream: ${rows[0]!.name} never reached the bucket; its output: ${(await readFile(log, "utf8").catch(() => "")).slice(-2000)}`, { cause: error });
        });
      } finally {
        await admin.end();
      }
    },
    run: async () => {
      const endpoint = { ...server!.endpoint, database: "pgbench" };
      const monitor = await connectPostgres(endpoint);
      const samples: LagSample[] = [];
      const started = performance.now();
      try {
        const position = async (): Promise<{ server: number; received: number }> => {
          const { rows } = await monitor.query<{ current: string; flushed: string | null }>("SELECT pg_current_wal_lsn()::text AS current, (SELECT max(flush_lsn)::text FROM pg_stat_replication) AS flushed");
          const current = lsnBytes(rows[0]!.current);
          return { server: current, received: rows[0]!.flushed ? lsnBytes(rows[0]!.flushed) : 0 };
        };
        const startLsn = (await position()).server;
        const load = runCommand(findBinary("pgbench"), pgbenchArgs, { env: loadEnv(endpoint), timeoutMs: (loadSeconds + 120) * 1000 });
        let loading = true;
        const sampling = (async () => {
          while (loading) {
            const at = performance.now() - started;
            const wallMs = Date.now();
            const [pos, archived] = await Promise.all([position(), readArchivedLsn(storage!, samples)]);
            samples.push({ atMs: at, wallMs, serverLsn: pos.server, receivedLsn: pos.received, archivedLsn: archived });
            await sleep(SAMPLE_MS);
          }
        })();
        let loadMs: number;
        let endLsn: number;
        // Sampled until the bucket caught up, so the lag's maximum includes the catch-up.
        try {
          await load;
          loadMs = performance.now() - started;
          const { rows } = await monitor.query<{ current: string; name: string }>("SELECT pg_current_wal_lsn()::text AS current, pg_walfile_name(pg_current_wal_lsn()) AS name, pg_switch_wal()");
          endLsn = lsnBytes(rows[0]!.current);
          await waitUntil(async () => ((await storage!.stat(walKey(rows[0]!.name))) ? true : undefined), { timeoutMs: 300_000, intervalMs: 200 });
        } finally {
          loading = false;
          await sampling;
        }
        const totalMs = performance.now() - started;
        const walBytes = endLsn - startLsn;
        const receiveBehind = samples.map((s) => Math.max(0, s.serverLsn - s.receivedLsn));
        const archiveBehind = samples.map((s) => Math.max(0, s.serverLsn - s.archivedLsn));
        const archiveSeconds = samples.map((s) => archiveLagSeconds(samples, s));
        const fact = {
          walBytes,
          walMBps: walBytes / 1e6 / (totalMs / 1000),
          generatedMBps: walBytes / 1e6 / (loadMs / 1000),
          catchUpMs: totalMs - loadMs,
          samples: samples.length,
          receiveLagBytesMedian: median(receiveBehind),
          receiveLagBytesMax: Math.max(...receiveBehind),
          archiveLagBytesMedian: median(archiveBehind),
          archiveLagBytesMax: Math.max(...archiveBehind),
          archiveLagSecondsMedian: median(archiveSeconds),
          archiveLagSecondsMax: Math.max(...archiveSeconds),
        };
        facts.push(fact);
        // The table's MB/s column reads WAL bytes per second once the runs are done.
        task.inputBytes = median(facts.map((f) => f.walBytes!));
        logStep(
          `  wal stream: ${(walBytes / 1e6).toFixed(0)} MB of WAL archived in ${(totalMs / 1000).toFixed(1)} s = ${fact.walMBps.toFixed(1)} MB/s (generated at ${fact.generatedMBps.toFixed(1)} MB/s, catch-up ${(fact.catchUpMs / 1000).toFixed(1)} s); ` +
            `behind pg_current_wal_lsn: receiver median ${(fact.receiveLagBytesMedian / 1e6).toFixed(2)} MB (max ${(fact.receiveLagBytesMax / 1e6).toFixed(2)}), ` +
            `bucket median ${(fact.archiveLagBytesMedian / 1e6).toFixed(1)} MB / ${fact.archiveLagSecondsMedian.toFixed(1)} s (max ${(fact.archiveLagBytesMax / 1e6).toFixed(1)} MB / ${fact.archiveLagSecondsMax.toFixed(1)} s), ${samples.length} samples`,
        );
      } finally {
        await monitor.end();
      }
    },
    teardown: async () => {
      streamer?.kill("SIGINT");
      await streamer?.catch(() => undefined);
      if (storage) await emptyBucket(storage).catch(() => undefined);
      storage?.[Symbol.dispose]();
      await server?.stop();
    },
  };
  return task;
}
