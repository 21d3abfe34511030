// Where to compress a physical base backup with zstd, measured side by side on one cluster:
// interleaved rounds of every candidate, each the whole pipeline (pg_basebackup -> zstd ->
// sha256 -> age -> S3 multipart on fauxqs), medians of wall time, stored bytes and CPU.
//   node bench/physical-compression.ts   # BENCH_PG_SIZE (default 500MB), BENCH_ITERATIONS (default 5)
// Candidates:
//   none         today's pipeline: the tar uncompressed
//   server-zstd  pg_basebackup --compress=server-zstd:1 (the walsender compresses). pg_basebackup
//                cannot inject backup_manifest into a compressed stream on stdout, so it needs
//                --no-manifest: the stop LSN would have to come from somewhere else.
//   client-zstd  pg_basebackup --compress=client-zstd:1 (pg_basebackup compresses after injecting
//                the manifest); a copy of the stream is decompressed in-process for the two entries
//   node-zstd    the tar uncompressed from pg_basebackup, TarEntryCapture, node:zlib
//                createZstdCompress level 1 (libuv threadpool)
import { loadavg } from "node:os";
import { PassThrough, pipeline, type Readable } from "node:stream";
import { constants as zlib, createZstdCompress, createZstdDecompress } from "node:zlib";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { seedPostgres } from "../fixtures/index.ts";
import { postgresEnv } from "../src/clients/index.ts";
import { TarEntryCapture } from "../src/components/postgres/tar-entries.ts";
import { discardSink } from "../src/streams/discard.ts";
import { uploadPart } from "../src/components/upload-part.ts";
import { parseSize } from "../src/config/units.ts";
import { commandError, describeCommand, findBinary, startCommand } from "../src/exec/index.ts";
import { S3Storage } from "../src/storage/index.ts";
import { startNativeS3 } from "../src/targets/index.ts";
import { startNativePostgres } from "../src/targets/native/native-postgres.ts";
import { findCpuWatch, readCpuSeconds, subtractCpuSeconds, type CpuSeconds } from "./cpu-usage.ts";
import { logStep } from "./log-step.ts";
import { settleDatabase } from "./settle-machine.ts";

type Candidate = "none" | "server-zstd" | "client-zstd" | "node-zstd";
const CANDIDATES: readonly Candidate[] = ["none", "server-zstd", "client-zstd", "node-zstd"];

/** A zstd level-1 compressor on the libuv threadpool. */
export function makeZstdLevel1(): ReturnType<typeof createZstdCompress> {
  return createZstdCompress({ params: { [zlib.ZSTD_c_compressionLevel]: 1 } });
}

/** pg_basebackup's arguments for a candidate. */
function basebackupArgs(candidate: Candidate): string[] {
  const common = ["--format=tar", "--wal-method=none", "--checkpoint=fast", "--no-password", "-D", "-"];
  if (candidate === "server-zstd") return [...common, "--compress=server-zstd:1", "--no-manifest"];
  if (candidate === "client-zstd") return [...common, "--compress=client-zstd:1"];
  return common;
}

/** One backup through a candidate's pipeline; the stored bytes and which entries were read. */
async function runOnce(candidate: Candidate, run: { storage: S3Storage; env: Record<string, string>; recipients: string[]; key: string }): Promise<{ stored: number; plain: number; entries: string[] }> {
  const tool = findBinary("pg_basebackup");
  const args = basebackupArgs(candidate);
  const child = startCommand(tool, args, { env: run.env, streamStdout: true, timeoutMs: 3_600_000 });
  const finished = child.then((result) => {
    if (result.failed) throw commandError(describeCommand(tool, args), result, String(result.stderr ?? ""));
  });
  const capture = new TarEntryCapture(["backup_label", "backup_manifest"]);
  let source: Readable;
  if (candidate === "none") {
    source = capture;
    pipeline(child.stdout!, capture, () => undefined);
  } else if (candidate === "node-zstd") {
    const zstd = makeZstdLevel1();
    source = zstd;
    pipeline(child.stdout!, capture, zstd, () => undefined);
  } else {
    // The compressed stream goes to the upload as is; a copy is decompressed only to read the entries.
    const upload = new PassThrough();
    source = upload;
    child.stdout!.pipe(upload);
    pipeline(child.stdout!, createZstdDecompress(), capture, discardSink(), () => undefined);
  }
  const [part] = await Promise.all([uploadPart({ storage: run.storage, key: run.key, source, recipients: run.recipients }), finished]);
  await new Promise((resolve) => setImmediate(resolve));
  return { stored: part.size, plain: part.plainSize, entries: [...capture.entries.keys()].sort() };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const bytes = parseSize(process.env.BENCH_PG_SIZE ?? "500MB") ?? 500e6;
  const rounds = Number(process.env.BENCH_ITERATIONS ?? 5);
  logStep(`load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const server = await startNativePostgres({ label: "zstd-compare", database: "bench" });
  const s3 = await startNativeS3();
  const storage = new S3Storage(s3.endpoint);
  try {
    const endpoint = { ...server.endpoint, database: "bench" };
    const seeded = await seedPostgres(endpoint, { targetBytes: bytes, seed: 42 });
    await settleDatabase(endpoint);
    logStep(`seeded ${(seeded.databaseBytes / 1e6).toFixed(0)} MB`);
    const recipients = [await identityToRecipient(await generateIdentity())];
    const env = postgresEnv(server.endpoint);
    const watch = findCpuWatch([s3.pid, server.pid].filter((p): p is number => p !== undefined));
    const results = new Map<Candidate, { ms: number; stored: number; plain: number; cpu: CpuSeconds; entries: string[] }[]>(CANDIDATES.map((c) => [c, []]));
    for (let round = 0; round < rounds; round += 1) {
      // Rotate the order so no candidate always runs first (after the previous one's S3 work).
      const order = CANDIDATES.map((_, i) => CANDIDATES[(i + round) % CANDIDATES.length]!);
      for (const candidate of order) {
        const key = `compare/${candidate}/${round}/base.tar.age`;
        const before = readCpuSeconds(watch);
        const started = performance.now();
        const outcome = await runOnce(candidate, { storage, env, recipients, key });
        const ms = performance.now() - started;
        const cpu = subtractCpuSeconds(readCpuSeconds(watch), before);
        results.get(candidate)!.push({ ms, ...outcome, cpu });
        logStep(`round ${round + 1} ${candidate}: ${(ms / 1000).toFixed(2)} s, stored ${(outcome.stored / 1e6).toFixed(0)} MB of ${(outcome.plain / 1e6).toFixed(0)} MB, CPU node ${cpu.bench.toFixed(1)} tools ${cpu.tools.toFixed(1)} s3 ${cpu.s3.toFixed(1)} pg ${cpu.postgres.toFixed(1)} s; entries ${outcome.entries.join(",")}`);
        await storage.delete(key);
      }
    }
    console.log(`\nzstd placement, ${rounds} interleaved rounds, cluster ${(seeded.databaseBytes / 1e6).toFixed(0)} MB (bench database), load average at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    console.log("| candidate | median wall | stored (plain-side bytes uploaded) | median CPU s node / pg_basebackup / s3 / postgres | entries read |");
    console.log("|---|---|---|---|---|");
    for (const [candidate, runs] of results) {
      const pick = (f: (r: (typeof runs)[number]) => number) => median(runs.map(f)).toFixed(1);
      console.log(`| ${candidate} | ${(median(runs.map((r) => r.ms)) / 1000).toFixed(2)} s | ${(median(runs.map((r) => r.stored)) / 1e6).toFixed(0)} MB | ${pick((r) => r.cpu.bench)} / ${pick((r) => r.cpu.tools)} / ${pick((r) => r.cpu.s3)} / ${pick((r) => r.cpu.postgres)} | ${runs[0]!.entries.join(", ")} |`);
    }
  } finally {
    storage.client.destroy();
    await s3.stop();
    await server.stop();
  }
}

await main();
