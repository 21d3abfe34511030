import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../src/config/load-config.ts";
import { openRepository } from "../src/repository/index.ts";
import { recordAttemptStart } from "../src/status/index.ts";
import { assertSourceReachable, externalSource } from "../src/targets/index.ts";
import { readToolVersion } from "../src/components/postgres/pg-tool-version.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";
import { type CliRepository, type CliRun, makeCliEnv, runCli } from "./cli-process.ts";
import type { CliBenchContext } from "./cli-tasks.ts";
import { type ProfileSummary, summarizeProfile, type CpuProfile } from "./cpu-profile.ts";
import { median } from "./summarize-task.ts";
import { sliceBackupRun, type TimeSlice } from "./cli-steps.ts";
import { logStep } from "./log-step.ts";

/** Median wall time of each piece of work the backup command does around backupPostgres(), in this process, ms. */
export interface CliPieces {
  /** How many times each piece was timed. */
  runs: number;
  /** Piece name -> median ms. */
  medianMs: Record<string, number>;
}

/** Functions whose first and last appearance on the profile's stacks place the backup command's phases. */
export const WATCHED_FUNCTIONS = [
  "main", "loadConfig", "openBackupSession", "openRepository", "check", "recordAttemptStart", "assertSourceReachable",
  "backupPostgres", "readToolVersion", "countRows", "uploadPart", "writeManifest", "runWithProgress",
] as const;

/** One profiled CLI backup: its profile's summary and the cut of its output lines. */
export interface CliProfile {
  command: string;
  exitMs: number;
  slices: TimeSlice[];
  profile: ProfileSummary;
}

/** Everything the overhead analysis measured. */
export interface CliOverhead {
  pieces: CliPieces;
  profile: CliProfile | undefined;
}

/** Put a variable back as it was (unset when it was unset). */
function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * Time, in this process, the pieces `dr-drill backup postgres` runs besides backupPostgres()
 * itself, with the same DR_* environment the CLI task gets: loading the configuration,
 * opening the repository (keys from the identity file), the bucket probe (HeadBucket), the
 * attempt record (two small PUTs), the source check (a connection), the pg_dump version.
 */
export async function measureCliPieces(ctx: CliBenchContext, runs: number): Promise<CliPieces> {
  const bucket = "bench-pg-cli-pieces";
  const bench = await openBenchBucket(ctx.target.s3, bucket);
  const repo: CliRepository = { s3: ctx.target.s3, bucket, identityFile: ctx.identityFile, stateDir: join(ctx.scratchDir, "state-pieces") };
  const cliEnv = makeCliEnv(repo, ctx.target.postgres);
  const env = { ...process.env, ...cliEnv };
  // The SDK's credential chain reads this process's environment, as it does the CLI's.
  const savedKeys = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = cliEnv.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = cliEnv.AWS_SECRET_ACCESS_KEY;
  const samples: Record<string, number[]> = {};
  const time = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const value = await fn();
    (samples[name] ??= []).push(performance.now() - started);
    return value;
  };
  try {
    for (let i = 0; i < runs; i++) {
      const config = await time("loadConfig (DR_* variables, no config file)", () => loadConfig(env as NodeJS.ProcessEnv));
      const repository = await time("openRepository (keys from DR_AGE_IDENTITY_FILE, S3 client)", () => openRepository(config));
      try {
        await time("storage.check() (HeadBucket)", () => repository.storage.check());
        const attempt = await time("recordAttemptStart (PUT of the attempt record)", () => recordAttemptStart(repository.storage, "postgres"));
        await time("assertSourceReachable (connect to PostgreSQL)", () => assertSourceReachable(externalSource(config), ["postgres"]));
        await time("readToolVersion('pg_dump') (pg_dump --version)", () => readToolVersion("pg_dump"));
        await time("attempt.finish (PUT of the outcome)", () => attempt.finish({ backupId: "bench" }));
      } finally {
        await repository.close();
      }
    }
  } finally {
    restoreEnv("AWS_ACCESS_KEY_ID", savedKeys.id);
    restoreEnv("AWS_SECRET_ACCESS_KEY", savedKeys.secret);
    await emptyBucket(bench).catch(() => undefined);
    bench[Symbol.dispose]();
  }
  return { runs, medianMs: Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)])) };
}

/**
 * One `node --cpu-prof bin/dr-drill.js backup postgres` outside the timed rounds: where the
 * process's wall time goes (idle waiting, module loading, SDK, dr-drill's own JS) and when
 * each phase's function first ran.
 */
export async function profileCliBackup(ctx: CliBenchContext): Promise<CliProfile | undefined> {
  const bucket = "bench-pg-cli-profile";
  const storage = await openBenchBucket(ctx.target.s3, bucket);
  const dir = join(ctx.scratchDir, "cpu-profile");
  const repo: CliRepository = { s3: ctx.target.s3, bucket, identityFile: ctx.identityFile, stateDir: join(ctx.scratchDir, "state-profile") };
  const env = { ...makeCliEnv(repo, ctx.target.postgres), DR_PG_COMPRESSION: String(ctx.compressionLevel) };
  const nodeArgs = ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=1000"];
  try {
    logStep("CLI overhead: one profiled CLI backup (node --cpu-prof)");
    const run: CliRun = await runCli(["backup", "postgres"], env, { timeoutMs: 60 * 60_000, nodeArgs });
    const file = (await readdir(dir)).find((name) => name.endsWith(".cpuprofile"));
    if (!file) return undefined;
    const profile = JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
    return {
      command: `node ${nodeArgs.join(" ")} bin/dr-drill.js backup postgres`,
      exitMs: run.exitMs,
      slices: sliceBackupRun(run),
      profile: summarizeProfile(profile, WATCHED_FUNCTIONS),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await emptyBucket(storage).catch(() => undefined);
    storage[Symbol.dispose]();
  }
}
