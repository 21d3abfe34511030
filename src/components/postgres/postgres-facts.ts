import type pg from "pg";

/** Row counts of every user table, schema-qualified, read inside the caller's snapshot. */
export async function countRows(client: pg.Client): Promise<Record<string, number>> {
  const { rows: tables } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
      ORDER BY 1, 2`,
  );
  const counts: Record<string, number> = {};
  for (const { schema, name } of tables) {
    const ident = `"${schema.replaceAll('"', '""')}"."${name.replaceAll('"', '""')}"`;
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${ident}`);
    counts[`${schema}.${name}`] = Number(rows[0]?.n ?? 0);
  }
  return counts;
}

/** Applied Django migrations as `app.name`, sorted; empty without a django_migrations table. */
export async function readMigrations(client: pg.Client): Promise<string[]> {
  const { rows: exists } = await client.query<{ t: string | null }>("SELECT to_regclass('django_migrations')::text AS t");
  if (!exists[0]?.t) return [];
  const { rows } = await client.query<{ m: string }>("SELECT app || '.' || name AS m FROM django_migrations ORDER BY 1");
  return rows.map((r) => r.m);
}

/** Newest dr_heartbeat row time (ISO), when the table exists and has rows. */
export async function readNewestHeartbeat(client: pg.Client): Promise<string | undefined> {
  const { rows: exists } = await client.query<{ t: string | null }>("SELECT to_regclass('dr_heartbeat')::text AS t");
  if (!exists[0]?.t) return undefined;
  const { rows } = await client.query<{ at: Date | null }>("SELECT max(written_at) AS at FROM dr_heartbeat");
  return rows[0]?.at ? rows[0].at.toISOString() : undefined;
}

/** Current WAL position: the primary's write LSN, or the replay LSN on a standby. */
export async function readLsn(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ lsn: string }>(
    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn",
  );
  return rows[0]?.lsn ?? "unknown";
}
