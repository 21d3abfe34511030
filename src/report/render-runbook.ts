import { formatBytes, formatDuration, SCENARIO_IDS, type ScenarioId } from "../config/index.ts";
import { RECOVERY_STEPS, RESTORE_STEPS } from "../components/postgres/postgres-restore.ts";
import type { DrillResult } from "../drill/drill-result.ts";
import type { ScenarioResult } from "../drill/scenarios/scenario.ts";
import { inline } from "./markdown-table.ts";
import type { DrStatusReport } from "./report-model.ts";
import { pathFigures, stepMark } from "./scenario-row.ts";

/** The runbook's headings, in the reference's order (also the fallback when a scenario did not run). */
const HEADINGS: Record<ScenarioId, string> = {
  "database-corruption": "Database Corruption",
  "server-failure": "Complete Server Failure",
  "redis-failure": "Redis Cache Failure",
  "media-loss": "Media File Loss",
  "region-outage": "Region Outage",
};

/**
 * The written runbook of a scenario that did not run, with the figures the restore
 * proofs measured: what the report always showed before the scenarios were drilled.
 */
function writtenRunbook(d: DrillResult, id: ScenarioId, scenariosRan: boolean): string[] {
  const pg = d.recoveries.postgres;
  const step = (name: string) => pg.steps.find((x) => x.name === name);
  const lines: string[] = [];
  switch (id) {
    case "database-corruption":
      lines.push("**Symptoms**: `ERROR: invalid page in block X of relation Y`", "");
      lines.push("1. **Stop the application** (gunicorn, celery).");
      lines.push(`2. **Restore the newest good backup into a new database** (measured here: ${formatDuration((step(RESTORE_STEPS.createDatabase)?.durationMs ?? 0) + (step(RESTORE_STEPS.download)?.durationMs ?? 0) + (step(RESTORE_STEPS.pgRestore)?.durationMs ?? 0))}):`);
      lines.push("   ```bash", "   dr-drill list postgres", "   PGPASSWORD=... dr-drill restore postgres --latest --into postgres://postgres@DBHOST:5432/deltacrown_prod_new", "   ```");
      lines.push(`3. **Run smoke checks** (measured here: ${formatDuration(step(RECOVERY_STEPS.smokeChecks)?.durationMs ?? Number.NaN)}): \`python manage.py check\`, \`python manage.py migrate --check\` (configure them as \`smoke.commands\` so the drill runs them).`);
      lines.push("4. **Swap databases**: `ALTER DATABASE deltacrown_prod RENAME TO deltacrown_prod_corrupted; ALTER DATABASE deltacrown_prod_new RENAME TO deltacrown_prod;`");
      lines.push("5. **Restart the application and check health.**", "");
      lines.push(`**Measured RTO**: ${formatDuration(pg.rtoMs ?? Number.NaN)}; **RPO**: last backup (${d.config.schedule.postgres.label.toLowerCase()}), measured loss ${formatDuration(d.rpo.measuredLossMs ?? Number.NaN)}`, "");
      break;
    case "server-failure":
      lines.push("Provision a server, then restore each component as in scenarios 1, 3 and 4. Measured here in sequence: " +
        `PostgreSQL ${formatDuration(pg.rtoMs ?? Number.NaN)}, Redis ${formatDuration(d.recoveries.redis.rtoMs ?? Number.NaN)}, media ${formatDuration(d.recoveries.media.rtoMs ?? Number.NaN)}. Provisioning and DNS are outside this drill.`, "");
      break;
    case "redis-failure":
      lines.push("```bash", "systemctl stop redis", "dr-drill restore redis --latest --into /var/lib/redis   # writes dump.rdb, checked by SHA-256 and redis-check-rdb", "chown redis:redis /var/lib/redis/dump.rdb && systemctl start redis && redis-cli PING", "```", "");
      lines.push(`**Measured RTO**: ${formatDuration(d.recoveries.redis.rtoMs ?? Number.NaN)} (download, check, start, compare keys/types/TTLs)`, "");
      break;
    case "media-loss":
      lines.push("```bash", "dr-drill restore media --latest --into /opt/deltacrown/media.restored   # every file's SHA-256 checked", "```", "");
      lines.push(`**Measured RTO**: ${formatDuration(d.recoveries.media.rtoMs ?? Number.NaN)} for ${d.media?.restoredFiles ?? 0} files (${formatBytes(d.media?.restoredBytes ?? 0)})`, "");
      break;
    case "region-outage":
      lines.push(scenariosRan
        ? "**Status**: not run in this drill (`dr-drill drill --scenario region-outage` runs it: a streaming replica promoted, and region B's backups restored)."
        : "**Status**: ⚠️ **NOT VERIFIED** (requires a second region: replicate the bucket and promote a replica).", "");
      break;
  }
  return lines;
}

/** A command as the runbook prints it: a bash block, indented under its list item. */
function commandBlock(command: string): string[] {
  return ["   ```bash", ...command.split("\n").map((line) => `   ${line}`), "   ```"];
}

/** A scenario's recovery as it ran: per path, its recover steps in order, each with its measured time and command. */
function executedRunbook(d: DrillResult, result: ScenarioResult): string[] {
  const lines = [`**Symptoms**: ${inline(result.symptom)}  `, `**Drilled by**: ${inline(result.fault)}  `];
  lines.push(`**Result**: ${result.verdict.status === "passed" ? "✅" : result.verdict.status === "failed" ? "❌" : "⚠️"} ${result.verdict.status} — ${inline(result.verdict.detail)}`, "");
  const recover = result.steps.filter((s) => s.phase === "recover");
  if (!recover.length) {
    lines.push("No recovery step ran in this drill; the written runbook:", "");
    if (result.id !== "region-outage") lines.push(...writtenRunbook(d, result.id, true));
    return lines;
  }
  const names = [...result.paths.map((p) => p.name), ...recover.map((s) => s.path ?? "")].filter((n, i, all) => all.indexOf(n) === i);
  for (const [index, name] of names.entries()) {
    const steps = recover.filter((s) => (s.path ?? "") === name);
    if (!steps.length) continue;
    const path = result.paths.find((p) => p.name === name);
    if (name) lines.push(`#### ${index === 0 ? "Runbook" : "Alternative"}: ${inline(name)}${path ? ` (${inline(pathFigures(path))})` : ""}`, "");
    steps.forEach((s, i) => {
      const outcome = s.status === "ok" ? `${formatDuration(s.durationMs)} ✅` : s.status === "skipped" ? `${stepMark(s.status)} ${s.detail}` : `${formatDuration(s.durationMs)} ❌ ${s.detail}`;
      lines.push(`${i + 1}. **${inline(s.name)}** (measured: ${inline(outcome)})`);
      if (s.command) lines.push(...commandBlock(s.command));
    });
    lines.push("");
  }
  return lines;
}

/**
 * The DR Runbook section. A scenario that ran is rendered from the steps it actually
 * took (recover phase, grouped per path, each with its time and the command a person
 * types); one that did not run keeps the written runbook with the restore proofs' figures.
 */
export function renderRunbook(report: DrStatusReport): string[] {
  const d = report.drill;
  const results = d.scenarios ?? [];
  const lines = ["## DR Runbook", ""];
  SCENARIO_IDS.forEach((id, i) => {
    const result = results.find((r) => r.id === id);
    lines.push(`### Failure Scenario ${i + 1}: ${HEADINGS[id]}`, "");
    lines.push(...(result ? executedRunbook(d, result) : writtenRunbook(d, id, results.length > 0)));
  });
  lines.push("---", "");
  return lines;
}
