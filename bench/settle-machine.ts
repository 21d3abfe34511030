import { connectPostgres } from "../src/clients/postgres-client.ts";
import { runCommand } from "../src/exec/index.ts";
import type { PostgresEndpoint } from "../src/targets/target.ts";

/**
 * Leave a freshly seeded database with nothing pending: VACUUM (FREEZE, ANALYZE) so
 * autovacuum has no reason to wake up during a timed dump, then CHECKPOINT so the load's
 * dirty buffers are not written back while the first task runs.
 */
export async function settleDatabase(endpoint: PostgresEndpoint): Promise<void> {
  const client = await connectPostgres(endpoint);
  try {
    await client.query("SET statement_timeout = 0");
    await client.query("VACUUM (FREEZE, ANALYZE)");
    await client.query("CHECKPOINT");
  } finally {
    await client.end();
  }
}

/**
 * Write every dirty page to disk (`sync`) before an iteration, so no iteration pays for the
 * writeback of the one before it (a first sync leaves hundreds of MB of fresh objects).
 */
export async function flushDisks(): Promise<void> {
  await runCommand("sync", [], { timeoutMs: 120_000 });
}
