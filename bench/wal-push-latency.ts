import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { segmentFileName } from "../src/components/wal/wal-names.ts";
import type { S3Storage } from "../src/storage/index.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import type { BenchTask } from "./bench-task.ts";
import { type CliRepository, describeCli, makeCliEnv, runCli } from "./cli-process.ts";
import type { CliBenchContext } from "./cli-tasks.ts";
import { logStep } from "./log-step.ts";
import { median } from "./summarize-task.ts";

const SEGMENT_BYTES = 16 * 1024 * 1024;
/** Segments pushed per timed iteration (BENCH_WAL_SEGMENTS overrides). */
const DEFAULT_SEGMENTS = 10;

/**
 * `wal push` as archive_command runs it: one fresh `node bin/dr-drill.js wal push PATH`
 * process per 16 MiB segment (start-up, config, repository, hash, age, upload, exit), one
 * after the other as PostgreSQL archives them. Each iteration pushes new names (a name
 * already stored takes the short "same content" path, which is not what is measured); the
 * segments are random bytes written before the timed window. The figure the issue asks for is
 * the median per segment (the `msPerSegment` facts, logged per iteration); the table's time is
 * the whole batch.
 */
export function makeWalPushTask(ctx: CliBenchContext, segments = Number(process.env.BENCH_WAL_SEGMENTS ?? DEFAULT_SEGMENTS)): BenchTask {
  const bucket = "bench-wal-push";
  const repo: CliRepository = { s3: ctx.target.s3, bucket, identityFile: ctx.identityFile, stateDir: join(ctx.scratchDir, "state-wal-push") };
  const env = makeCliEnv(repo);
  const dir = join(ctx.scratchDir, "wal-push-segments");
  const facts: Record<string, number>[] = [];
  let storage: S3Storage | undefined;
  let next = 1n;
  let paths: string[] = [];
  return {
    id: "wal-push",
    name: `node bin/dr-drill.js wal push (archive_command), ${segments} segments of 16 MiB`,
    group: "postgres",
    command: `for each segment: DR_TARGET=external … ${describeCli(["wal", "push", "pg_wal/SEGMENT"])}`,
    notes: `one process per segment, one after the other, as archive_command runs it; new segment names each iteration (random bytes, written untimed); median ms per segment in the facts`,
    inputBytes: segments * SEGMENT_BYTES,
    facts,
    setup: async () => {
      storage = await openBenchBucket(ctx.target.s3, bucket, ctx.storageOptions);
      await emptyBucket(storage);
    },
    beforeEach: async () => {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      paths = [];
      for (let i = 0; i < segments; i += 1) {
        const path = join(dir, segmentFileName(1, next));
        next += 1n;
        await writeFile(path, randomBytes(SEGMENT_BYTES));
        paths.push(path);
      }
    },
    run: async () => {
      const perSegment: number[] = [];
      for (const path of paths) {
        const started = performance.now();
        await runCli(["wal", "push", path], env, { timeoutMs: 120_000 });
        perSegment.push(performance.now() - started);
      }
      const mid = median(perSegment);
      facts.push({ msPerSegment: mid, maxMsPerSegment: Math.max(...perSegment) });
      logStep(`  wal push: median ${mid.toFixed(0)} ms per segment (max ${Math.max(...perSegment).toFixed(0)} ms, ${segments} segments)`);
    },
    afterEach: async () => {
      await rm(dir, { recursive: true, force: true });
    },
    teardown: async () => {
      if (storage) await emptyBucket(storage).catch(() => undefined);
      storage?.[Symbol.dispose]();
    },
  };
}
