import { seedMedia, seedPostgres } from "../fixtures/index.ts";
import { connectPostgres } from "../src/clients/postgres-client.ts";
import { makeExcludeMatcher } from "../src/components/media/media-exclude.ts";
import { walkMedia } from "../src/components/media/media-walk.ts";
import { DEFAULT_MEDIA_EXCLUDES } from "../src/config/load-config.ts";
import type { PostgresEndpoint, StartedTarget } from "../src/targets/target.ts";
import type { BenchSettings } from "./bench-settings.ts";
import { logStep } from "./log-step.ts";
import { settleDatabase } from "./settle-machine.ts";

/** Database the RSS check backs up besides the main one, to show peak RSS does not follow size. */
export const SMALL_DATABASE = "bench_small";

/**
 * fauxqs refuses request bodies above 11 MiB and rclone gets single PUTs only, so every media
 * file must stay below it (and dr-drill's media objects are single PUTs too).
 */
const MAX_MEDIA_FILE_BYTES = 11 * 1024 * 1024;

/** What the fixtures hold, and how long they took to make. */
export interface SeededFixtures {
  /** pg_database_size of the main database, bytes. */
  databaseBytes: number;
  smallDatabase: PostgresEndpoint;
  smallDatabaseBytes: number;
  /** Files a backup includes (clutter excluded). */
  mediaFiles: number;
  mediaBytes: number;
  /** Files written that both tools exclude. */
  mediaExcluded: number;
  /** Largest included media file, bytes. */
  largestMediaFileBytes: number;
  /** Seeding wall times, ms (not part of any measurement). */
  seedMs: { postgres: number; smallPostgres: number; media: number };
}

/** Create an empty database next to the source one and return its endpoint. */
async function createDatabase(source: PostgresEndpoint, name: string): Promise<PostgresEndpoint> {
  const client = await connectPostgres(source);
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return { ...source, database: name };
}

/** The size of the largest included file, after proving it fits one PUT. */
async function checkMediaFileSizes(mediaDir: string): Promise<number> {
  const walk = await walkMedia(mediaDir, makeExcludeMatcher(DEFAULT_MEDIA_EXCLUDES));
  const tooBig = walk.files.find((file) => file.size >= MAX_MEDIA_FILE_BYTES);
  if (tooBig) {
    throw new Error(`unable to use media fixture '${mediaDir}': '${tooBig.path}' is ${tooBig.size} bytes, fauxqs takes single PUTs below 11 MiB only`);
  }
  return Math.max(0, ...walk.files.map((file) => file.size));
}

/** Seed the source database, the small RSS database and the media tree, in that order, and let the databases settle. */
export async function seedFixtures(target: StartedTarget, settings: BenchSettings): Promise<SeededFixtures> {
  logStep(`seeding PostgreSQL '${target.postgres.database}' to ${(settings.pgBytes / 1e6).toFixed(0)} MB`);
  const main = await seedPostgres(target.postgres, { targetBytes: settings.pgBytes, seed: settings.seed });
  logStep(`seeded ${(main.databaseBytes / 1e6).toFixed(0)} MB in ${(main.durationMs / 1000).toFixed(1)} s`);

  const smallDatabase = await createDatabase(target.postgres, SMALL_DATABASE);
  const small = await seedPostgres(smallDatabase, { targetBytes: settings.smallPgBytes, seed: settings.seed });
  logStep(`seeded '${SMALL_DATABASE}' ${(small.databaseBytes / 1e6).toFixed(0)} MB in ${(small.durationMs / 1000).toFixed(1)} s`);

  const mediaStarted = performance.now();
  const media = await seedMedia(target.mediaDir, { seed: settings.seed, files: settings.mediaFiles });
  const mediaMs = performance.now() - mediaStarted;
  const largest = await checkMediaFileSizes(target.mediaDir);
  await settleDatabase(target.postgres);
  await settleDatabase(smallDatabase);
  logStep(`seeded ${media.files} media files (${(media.bytes / 1e6).toFixed(0)} MB, largest ${(largest / 1e6).toFixed(2)} MB) in ${(mediaMs / 1000).toFixed(1)} s`);

  return {
    databaseBytes: main.databaseBytes,
    smallDatabase,
    smallDatabaseBytes: small.databaseBytes,
    mediaFiles: media.files,
    mediaBytes: media.bytes,
    mediaExcluded: media.excluded,
    largestMediaFileBytes: largest,
    seedMs: { postgres: main.durationMs, smallPostgres: small.durationMs, media: mediaMs },
  };
}
