import { connectPostgres, describePostgres, postgresEnv } from "../clients/index.ts";
import type { SmokeCommand } from "../config/index.ts";
import { redactText } from "../config/index.ts";
import { countRows, readMigrations } from "../components/index.ts";
import { messageOf } from "../errors/index.ts";
import { runCommand } from "../exec/index.ts";
import type { BackupManifest } from "../manifest/index.ts";
import type { PostgresEndpoint } from "../clients/endpoints.ts";
import { judge, type Check } from "../measure/verdict.ts";

/** One smoke check's outcome: the one verdict type (detail: what was compared, or the failure with the command's output, secrets masked), with its runtime. */
export interface SmokeResult extends Check {
  durationMs: number;
}

/** Foreign keys whose referencing rows have no referenced row (single-column keys). */
async function countForeignKeyViolations(endpoint: PostgresEndpoint): Promise<{ checked: number; violations: string[] }> {
  const client = await connectPostgres(endpoint);
  try {
    const { rows: fks } = await client.query<{ name: string; child: string; ccol: string; parent: string; pcol: string }>(
      `SELECT c.conname AS name, c.conrelid::regclass::text AS child, a.attname AS ccol,
              c.confrelid::regclass::text AS parent, pa.attname AS pcol
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1`,
    );
    const violations: string[] = [];
    for (const fk of fks) {
      const q = (id: string) => `"${id.replaceAll('"', '""')}"`;
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${fk.child} c WHERE c.${q(fk.ccol)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${fk.parent} p WHERE p.${q(fk.pcol)} = c.${q(fk.ccol)})`,
      );
      if (Number(rows[0]?.n ?? 0) > 0) violations.push(`${fk.name}: ${rows[0]!.n} orphan rows`);
    }
    return { checked: fks.length, violations };
  } finally {
    await client.end();
  }
}

/** Time one check; an exception is a failed check with its message. */
async function timed(name: string, fn: () => Promise<{ passed: boolean; detail: string }>): Promise<SmokeResult> {
  const started = performance.now();
  try {
    const { passed, detail } = await fn();
    return { name, ...judge(passed, detail), durationMs: performance.now() - started };
  } catch (error) {
    return { name, status: "failed", detail: messageOf(error), durationMs: performance.now() - started };
  }
}

/** First differences between two row-count maps, for messages. */
function diffCounts(actual: Record<string, number>, expected: Record<string, number>): string[] {
  const names = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort();
  return names.filter((n) => actual[n] !== expected[n]).map((n) => `${n}: ${actual[n] ?? "missing"} vs ${expected[n] ?? "absent"} expected`);
}

/**
 * Smoke checks on a restored database: it answers; its django_migrations equals the list
 * recorded at backup time; every table's row count equals the manifest's; foreign keys
 * hold; and the user's own commands pass with the restored database in their environment.
 */
export async function runSmokeChecks(restored: PostgresEndpoint, manifest: BackupManifest | undefined, commands: readonly SmokeCommand[]): Promise<SmokeResult[]> {
  const facts = manifest?.postgres;
  const results: SmokeResult[] = [];
  results.push(await timed("Connectivity", async () => {
    const client = await connectPostgres(restored);
    const { rows } = await client.query<{ v: string }>("SELECT current_database() AS v");
    await client.end();
    return { passed: rows[0]?.v === restored.database, detail: `connected to ${describePostgres(restored)}` };
  }));
  // A physical restore has no dump manifest to compare migrations and row counts with.
  if (facts) results.push(await timed("Migrations", async () => {
    const client = await connectPostgres(restored);
    const migrations = await readMigrations(client);
    await client.end();
    const expected = facts?.migrations ?? [];
    const missing = expected.filter((m) => !migrations.includes(m));
    const extra = migrations.filter((m) => !expected.includes(m));
    return {
      passed: missing.length === 0 && extra.length === 0,
      detail: missing.length || extra.length
        ? `missing ${missing.slice(0, 5).join(", ") || "none"}; unexpected ${extra.slice(0, 5).join(", ") || "none"}`
        : `${migrations.length} migrations applied, same as at backup time`,
    };
  }));
  if (facts) results.push(await timed("Row counts", async () => {
    const client = await connectPostgres(restored);
    const counts = await countRows(client);
    await client.end();
    const diffs = diffCounts(counts, facts?.tables ?? {});
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return { passed: diffs.length === 0, detail: diffs.length ? diffs.slice(0, 5).join("; ") : `${Object.keys(counts).length} tables, ${total.toLocaleString("en-US")} rows, all equal to the manifest` };
  }));
  results.push(await timed("Foreign keys", async () => {
    const { checked, violations } = await countForeignKeyViolations(restored);
    return { passed: violations.length === 0, detail: violations.length ? violations.join("; ") : `${checked} foreign keys hold` };
  }));
  const env = postgresEnv(restored);
  const secrets = [restored.password];
  // A Unix socket folder goes in the URL's host percent-encoded (libpq's form).
  const host = restored.host.startsWith("/") ? encodeURIComponent(restored.host) : restored.host;
  const databaseUrl = `postgres://${encodeURIComponent(restored.user)}${restored.password ? `:${encodeURIComponent(restored.password)}` : ""}@${host}:${restored.port}/${encodeURIComponent(restored.database)}`;
  for (const command of commands) {
    results.push(await timed(command.name, async () => {
      const [file, ...args] = command.command;
      const { stdout, stderr } = await runCommand(file!, args, { env: { ...env, DATABASE_URL: databaseUrl }, timeoutMs: command.timeoutMs });
      const output = redactText(`${stdout}\n${stderr}`.trim(), secrets);
      return { passed: true, detail: output.split("\n").slice(-3).join(" / ") || "exit 0" };
    }).then((r) => ({ ...r, detail: redactText(r.detail, secrets) })));
  }
  return results;
}
