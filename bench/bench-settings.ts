import { buildConfig } from "../src/config/load-config.ts";
import { parseSize } from "../src/config/units.ts";
import type { S3StorageOptions } from "../src/storage/index.ts";

/** What one bench run measures; every field can be overridden from the environment. */
export interface BenchSettings {
  /** pg_database_size of the main fixture database, bytes (BENCH_PG_SIZE, default 1GB). */
  pgBytes: number;
  /** pg_database_size of the second, smaller database of the RSS check, bytes (BENCH_PG_SMALL_SIZE). */
  smallPgBytes: number;
  /** Media files in the synced tree, clutter not counted (BENCH_MEDIA_FILES, default 10000). */
  mediaFiles: number;
  /** Timed iterations of every task (BENCH_ITERATIONS, default 3). */
  iterations: number;
  /** pg_dump --compress level, the same for every PostgreSQL task (dr-drill's default, DR_PG_COMPRESSION). */
  compressionLevel: number;
  /** Fixture seed (BENCH_SEED, default 42). */
  seed: number;
  /** Also time the backups without encryption, to show what age costs (BENCH_PLAIN=0 turns it off). */
  plainVariants: boolean;
  /**
   * S3Storage tuning of every dr-drill task, for experiments: BENCH_S3_PART_MIB (partSize)
   * and BENCH_S3_QUEUE (queueSize). Empty: dr-drill's defaults, as createStorage() builds it.
   */
  storage: S3StorageOptions;
  /** Task ids to run (BENCH_ONLY, comma separated, prefixes allowed; `age-crypto` for the age microbenchmark); empty runs them all. */
  only: string[];
  /**
   * A smoke run (BENCH_QUICK=1): a 100 MB database, 1 000 media files and 2 rounds unless
   * given, so the whole bench is checked in a few minutes. Its figures are not the issue's.
   */
  quick: boolean;
}

/** The environment variables read, for the report's command line. */
export const BENCH_ENV_NAMES = ["BENCH_PG_SIZE", "BENCH_PG_SMALL_SIZE", "BENCH_MEDIA_FILES", "BENCH_ITERATIONS", "BENCH_SEED", "BENCH_PLAIN", "BENCH_S3_PART_MIB", "BENCH_S3_QUEUE", "BENCH_ONLY", "BENCH_QUICK", "DR_PG_COMPRESSION"] as const;

const MIN_SMALL_PG_BYTES = 20e6;
const MIB = 1024 * 1024;

/** A size variable, or the fallback; a value that does not parse stops the run with its name. */
function readSize(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) throw new Error(`unable to read setting '${name}': got '${text}', expected a size such as 100MB or 1GB`);
  return bytes;
}

/** A whole-number variable within bounds, or the fallback. */
function readCount(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`unable to read setting '${name}': got '${text}', expected a whole number >= ${min}`);
  return n;
}

/** Read the bench settings from the environment (defaults: the 1 GB database and 10 000 files; BENCH_QUICK=1: a smoke run). */
export function readBenchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const quick = env.BENCH_QUICK === "1";
  const pgBytes = readSize(env, "BENCH_PG_SIZE", quick ? 100e6 : 1e9);
  const compressionLevel = buildConfig(undefined, env.DR_PG_COMPRESSION ? { DR_PG_COMPRESSION: env.DR_PG_COMPRESSION } : {}).postgres.compressionLevel;
  return {
    pgBytes,
    smallPgBytes: readSize(env, "BENCH_PG_SMALL_SIZE", Math.max(MIN_SMALL_PG_BYTES, Math.round(pgBytes / 10))),
    mediaFiles: readCount(env, "BENCH_MEDIA_FILES", quick ? 1_000 : 10_000, 1),
    iterations: readCount(env, "BENCH_ITERATIONS", quick ? 2 : 3, 1),
    compressionLevel,
    seed: readCount(env, "BENCH_SEED", 42, 0),
    plainVariants: env.BENCH_PLAIN !== "0",
    storage: {
      ...(env.BENCH_S3_PART_MIB ? { partSize: readCount(env, "BENCH_S3_PART_MIB", 8, 5) * MIB } : {}),
      ...(env.BENCH_S3_QUEUE ? { queueSize: readCount(env, "BENCH_S3_QUEUE", 4, 1) } : {}),
    },
    only: (env.BENCH_ONLY ?? "").split(",").map((id) => id.trim()).filter(Boolean),
    quick,
  };
}
