import { connectPostgres } from "../clients/index.ts";
import type { DrConfig } from "../config/index.ts";
import { DrError } from "../errors/index.ts";
import type { StartedTarget } from "../targets/target.ts";
import { seedMedia, seedPostgres, seedRedis, type MediaFixtureResult, type PostgresFixtureResult, type RedisFixtureResult } from "../../fixtures/index.ts";

/** What seeding put in the source servers. */
export interface SeedResult {
  postgres: PostgresFixtureResult;
  redis: RedisFixtureResult;
  media: MediaFixtureResult;
}

/** True when the source database already has user tables (a seeded workspace). */
export async function isSeeded(target: StartedTarget): Promise<boolean> {
  const client = await connectPostgres(target.postgres);
  try {
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    );
    return Number(rows[0]?.n ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/**
 * Fill a target's source servers with the deterministic DeltaCrown-like fixtures. Refused
 * on a target whose sources belong to someone else (external): dr-drill only reads those.
 */
export async function seedSource(target: StartedTarget, config: DrConfig, onProgress?: (what: string, bytes: number) => void): Promise<SeedResult> {
  if (target.readOnlySource) {
    throw new DrError("RESTORE_REFUSED", `unable to seed target '${target.kind}': its servers are only ever read from`, {
      hint: "seeding is for the native and containers targets",
      exitCode: 2,
    });
  }
  const seed = config.fixtures.seed;
  const [postgres, redis, media] = await Promise.all([
    seedPostgres(target.postgres, { targetBytes: config.fixtures.postgresBytes, seed, onProgress: (b) => onProgress?.("postgres", b) }),
    seedRedis(target.redis, { seed }),
    seedMedia(target.mediaDir, { seed }),
  ]);
  return { postgres, redis, media };
}
