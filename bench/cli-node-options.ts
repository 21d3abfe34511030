// Does the CLI backup lose time to a cold V8 heap? `dr-drill backup postgres` as a whole
// process with Node's defaults and with a larger young generation (NODE_OPTIONS
// --max-semi-space-size), beside in-process backupPostgres(), in interleaved rounds.
// Alone: `node bench/cli-node-options.ts` (BENCH_PG_SIZE, BENCH_ITERATIONS, BENCH_QUICK).
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { backupPostgres } from "../src/components/postgres/postgres-backup.ts";
import { buildConfig } from "../src/config/load-config.ts";
import { makeTempDir } from "../src/lifecycle/index.ts";
import { startNativeTarget } from "../src/targets/native/native-target.ts";
import { seedPostgres } from "../fixtures/index.ts";
import { makeIdentityFile } from "./bench-keys.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { readBenchSettings } from "./bench-settings.ts";
import type { BenchTask } from "./bench-task.ts";
import { makeCliEnv, runCli } from "./cli-process.ts";
import { findCpuWatch } from "./cpu-usage.ts";
import { logStep } from "./log-step.ts";
import { runRounds } from "./run-rounds.ts";
import { settleDatabase } from "./settle-machine.ts";

const SEMI_SPACE_MIB = [16, 64];

async function main(): Promise<void> {
  const settings = readBenchSettings();
  const scratch = await makeTempDir("bench-node-options");
  const target = await startNativeTarget();
  try {
    logStep(`seeding ${(settings.pgBytes / 1e6).toFixed(0)} MB`);
    const seeded = await seedPostgres(target.postgres, { targetBytes: settings.pgBytes, seed: settings.seed });
    await settleDatabase(target.postgres);
    const keys = await makeIdentityFile(scratch);
    const bucket = "bench-node-options";
    const storage = await openBenchBucket(target.s3, bucket);
    const config = buildConfig(undefined, {});
    config.postgres.compressionLevel = settings.compressionLevel;
    const clean = () => emptyBucket(storage);
    const base = { group: "postgres" as const, notes: "", inputBytes: seeded.databaseBytes, facts: [], afterEach: clean };
    const env = { ...makeCliEnv({ s3: target.s3, bucket, identityFile: keys.file, stateDir: join(scratch, "state") }, target.postgres), DR_PG_COMPRESSION: String(settings.compressionLevel) };
    const tasks: BenchTask[] = [
      { ...base, id: "in-process", name: "in-process backupPostgres()", command: "backupPostgres(ctx)", run: async () => {
        await backupPostgres({ storage, config, postgres: target.postgres, redis: target.redis, mediaDir: target.mediaDir, recipients: keys.recipients });
      } },
      { ...base, id: "cli-default", name: "CLI backup, Node defaults", command: "node bin/dr-drill.js backup postgres", run: async () => {
        await runCli(["backup", "postgres"], env, { timeoutMs: 3_600_000 });
      } },
      ...SEMI_SPACE_MIB.map((mib): BenchTask => ({ ...base, id: `cli-semi-${mib}`, name: `CLI backup, --max-semi-space-size=${mib}`, command: `NODE_OPTIONS=--max-semi-space-size=${mib} node bin/dr-drill.js backup postgres`, run: async () => {
        await runCli(["backup", "postgres"], { ...env, NODE_OPTIONS: `--max-semi-space-size=${mib}` }, { timeoutMs: 3_600_000 });
      } })),
    ];
    const summaries = await runRounds(tasks, settings.iterations, findCpuWatch(target.pids()));
    console.table(summaries.map((s) => ({
      task: s.name,
      median: `${(s.medianMs / 1000).toFixed(2)} s`,
      samples: s.samplesMs.map((ms) => (ms / 1000).toFixed(1)).join(" "),
      "CPU s node/tools/s3/pg": [s.medianCpu.bench, s.medianCpu.tools, s.medianCpu.s3, s.medianCpu.postgres].map((x) => x.toFixed(1)).join("/"),
    })));
    storage[Symbol.dispose]();
  } finally {
    await target.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
