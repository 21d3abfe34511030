import { formatBytes, formatDuration } from "../config/index.ts";
import type { BackupManifest } from "../manifest/index.ts";
import type { HistoryPoint } from "./history.ts";
import { table } from "./markdown-table.ts";
import type { DrStatusReport } from "./report-model.ts";
import { renderRunbook } from "./render-runbook.ts";
import { renderScenarioSections } from "./render-scenarios.ts";

function gb(bytes: number): number {
  return bytes / 1e9;
}

/** A Mermaid xychart of one series over the history (GitHub renders it). */
function trendChart(title: string, yLabel: string, points: readonly HistoryPoint[], value: (p: HistoryPoint) => number | undefined): string | undefined {
  const series = points.map((p) => ({ p, v: value(p) })).filter((x): x is { p: HistoryPoint; v: number } => x.v !== undefined && Number.isFinite(x.v)).slice(-20);
  if (series.length < 2) return undefined;
  const labels = series.map(({ p }) => `"${p.at.slice(5, 16).replace("T", " ")}"`);
  const values = series.map(({ v }) => Number(v.toPrecision(4)));
  const max = Math.max(...values) * 1.2 || 1;
  return ["```mermaid", "xychart-beta", `  title "${title}"`, `  x-axis [${labels.join(", ")}]`, `  y-axis "${yLabel}" 0 --> ${Number(max.toPrecision(3))}`, `  line [${values.join(", ")}]`, "```"].join("\n");
}

function newestOf(backups: readonly BackupManifest[], component: BackupManifest["component"]): BackupManifest | undefined {
  return backups.filter((b) => b.component === component).at(-1);
}

/** Render the DR status report as Markdown shaped like the reference document; every figure comes from the report model. */
export function renderMarkdown(report: DrStatusReport): string {
  const d = report.drill;
  const o = d.config.objectives;
  const pg = d.recoveries.postgres;
  const lines: string[] = [];
  const passed = report.opsTests.filter((t) => t.status === "passed").length;
  const date = report.generatedAt.slice(0, 10);

  lines.push("# Disaster Recovery & Backup Status", "");
  lines.push(`**Status**: ${report.overall.mark} ${report.overall.label}  `);
  lines.push(`**Date**: ${report.generatedAt} (written by \`${report.job === "drill" ? "pnpm drill" : "pnpm test:ops"}\`)  `);
  lines.push(`**Target**: ${d.target.kind} — ${d.target.postgres}; ${d.target.redis}; ${d.target.s3}${d.target.images ? `; images ${Object.values(d.target.images).join(", ")}` : ""}${d.target.sandbox ? `; restores in ${d.target.sandbox}` : ""}  `);
  const notConfigured = (["postgres", "redis", "media"] as const).filter((c) => !d.recoveries[c].configured);
  lines.push(d.mode === "existing"
    ? `**Scope**: a drill of the backups already in ${d.storageLocation} (none taken, nothing written to the source or the backup prefixes): ${d.components.join(", ") || "no component"} restored into scratch servers, ${report.opsTests.length} ops tests, DR runbook${notConfigured.length ? `; not configured: ${notConfigured.join(", ")}` : ""}`
    : `**Scope**: backups (PostgreSQL, Redis, media) to ${d.storageLocation}, restore drill into scratch servers, ${report.opsTests.length} ops tests, DR runbook`, "");
  lines.push("Every figure below was measured in this run; nothing is copied from a previous report.", "", "---", "");

  lines.push("## Executive Summary", "");

  if (d.mode === "existing") {
    const drilled = Object.values(d.newest);
    lines.push(`- **Backups**: none taken; drilled the newest existing ones (${drilled.map((b) => `\`${b.id}\``).join(", ") || "none found"}), ${drilled.every((b) => b.encryption.format === "age") ? "all age-encrypted" : "NOT all encrypted"}`);
  } else {
    lines.push(`- **Backups**: ${d.backups.length} backups taken in this run (${["postgres", "redis", "media"].map((c) => `${d.backups.filter((b) => b.component === c).length} ${c}`).join(", ")}), all ${d.backups.every((b) => b.encryption.format === "age") ? "age-encrypted" : "NOT all encrypted"}, each with a manifest written last`);
  }
  if (d.backupErrors.length) lines.push(`- **Backup failures**: ${d.backupErrors.length} — ${d.backupErrors.join("; ")}`);
  if (!pg.configured) lines.push("- **Restore drill**: PostgreSQL not configured");
  else lines.push(`- **Restore drill**: ${pg.ok ? "restored" : "FAILED to restore"} ${pg.backupId ?? "no backup"} into a scratch server${d.postgresRestore ? ` (${formatBytes(d.postgresRestore.restoredBytes)} database)` : ""}; ${d.smoke.filter((s) => s.status === "passed").length}/${d.smoke.length} smoke checks passed`);
  for (const c of ["redis", "media"] as const) {
    const r = d.recoveries[c];
    if (d.mode === "existing") lines.push(`- **${c === "redis" ? "Redis" : "Media"}**: ${r.configured ? `${r.ok ? "restored" : "FAILED"} ${r.backupId ?? "no backup"}${r.error && !r.ok ? ` (${r.error})` : ""}` : "not configured"}`);
  }
  if (d.mode === "existing") {
    const age = pg.restoredConsistentAt ? Date.parse(d.failureAt) - Date.parse(pg.restoredConsistentAt) : undefined;
    lines.push(`- **RPO**: ${pg.configured ? `${formatDuration(age ?? Number.NaN)}, the restored backup's age at the declared failure` : "see the scenarios below"} (target ${formatDuration(o.rpoMs)}); **RTO**: ${formatDuration(pg.rtoMs ?? Number.NaN)} (target ${formatDuration(o.rtoMs)})`);
  } else {
    lines.push(`- **RPO**: measured data loss ${formatDuration(d.rpo.measuredLossMs ?? Number.NaN)} (target ${formatDuration(o.rpoMs)}); **RTO**: ${formatDuration(pg.rtoMs ?? Number.NaN)} (target ${formatDuration(o.rtoMs)})`);
  }
  const neutral = report.opsTests.filter((t) => t.status === "not configured").length;
  lines.push(`- **Ops tests**: ${passed}/${report.opsTests.length - neutral} passed${neutral ? ` (${neutral} not configured)` : ""}`);
  const drilled = report.scenarios.filter((r) => r.id && r.mark !== "➖");
  if (drilled.length) lines.push(`- **Scenarios**: ${drilled.filter((r) => r.mark === "✅").length}/${drilled.length} failure scenarios drilled (fault injected, recovered by the runbook, measured) meet their targets${report.scenarios.some((r) => r.status === "NOT RUN") ? `; not run: ${report.scenarios.filter((r) => r.status === "NOT RUN").map((r) => r.scenario).join(", ")}` : ""}`, "", "---", "");
  else lines.push(`- **Scenarios**: ${report.scenarios.filter((s) => s.mark === "✅").length}/${report.scenarios.length} meet their targets`, "", "---", "");

  lines.push("## Backup Strategy", "");
  const s = d.config.schedule;
  const newestCell = (c: "postgres" | "redis" | "media", extra: (b: BackupManifest) => string) => {
    if (!d.recoveries[c].configured) return "not configured";
    const b = d.newest[c] ?? newestOf(d.backups, c);
    return b ? `${b.id} (${extra(b)})` : "none";
  };
  lines.push(table(["Component", "Frequency", "Retention", "Method", "Storage", "Newest backup"], [
    ["**PostgreSQL**", s.postgres.label, formatDuration(s.postgres.retentionMs), `${d.config.postgres.compressionMethod === "zstd" && d.config.postgres.compressionLevel > 0 ? `\`pg_dump --format=custom --compress=0\`, zstd -${d.config.postgres.compressionLevel}` : `\`pg_dump --format=custom --compress=${d.config.postgres.compressionLevel}\``}, streamed, age-encrypted`, d.storageLocation, newestCell("postgres", (b) => formatBytes(b.storedBytes))],
    ["**Redis**", s.redis.label, formatDuration(s.redis.retentionMs), "RDB snapshot (BGSAVE awaited, redis-check-rdb), age-encrypted", d.storageLocation, newestCell("redis", (b) => formatBytes(b.storedBytes))],
    ["**Media Files**", s.media.label, formatDuration(s.media.retentionMs), `incremental sync, content-addressed, snapshot per run; excludes ${d.config.media.excludes.map((e) => `\`${e}\``).join(" ")}`, d.storageLocation, newestCell("media", (b) => `${b.media?.files} files`)],
  ]), "");
  const total = d.storageBytes.total;
  const price = d.config.report.pricePerGbMonth;
  lines.push(`**Total Backup Size** (measured in storage): ${formatBytes(total)} (PostgreSQL: ${formatBytes(d.storageBytes.byComponent.postgres)}, Media: ${formatBytes(d.storageBytes.byComponent.media)}, Redis: ${formatBytes(d.storageBytes.byComponent.redis)})  `);
  lines.push(`**Monthly Cost** (estimate): $${(gb(total) * price).toFixed(4)} (S3 Standard: $${price}/GB × ${gb(total).toFixed(3)} GB; transfer not included)  `);
  lines.push(`**Encryption**: age (X25519), key from ${d.keySource}  `);
  const immutability = report.opsTests.find((t) => t.name === "test_backups_immutable_object_lock");
  const lock = d.storageCapabilities.objectLock
    ? immutability?.status === "passed" ? "yes, verified by this run (delete and overwrite of a locked version refused)" : `yes, but ${immutability ? `the check ${immutability.status}` : "not checked in this run"}`
    : `no (not verified: ${d.storageCapabilities.reasons?.objectLock ?? "unsupported"})`;
  lines.push(`**Storage capabilities**: versioning ${d.storageCapabilities.versioning ? "yes" : `no (${d.storageCapabilities.reasons?.versioning ?? "unsupported"})`}, Object Lock ${lock}`, "", "---", "");

  lines.push("## RPO/RTO Targets", "");
  lines.push(table(["Scenario", "RPO (Data Loss)", "RTO (Recovery Time)", "Measured", "Status"],
    report.scenarios.map((r) => [`**${r.scenario}**`, r.rpoTarget, r.rtoTarget, r.measured, `${r.mark} ${r.status}`])), "");
  const applicable = report.scenarios.filter((r) => r.mark !== "➖");
  const notRun = report.scenarios.filter((r) => r.status === "NOT RUN").length;
  const neutralRows = [report.scenarios.length - applicable.length - notRun ? `${report.scenarios.length - applicable.length - notRun} not configured` : "", notRun ? `${notRun} not run` : ""].filter(Boolean);
  lines.push(`**Overall Assessment**: **${applicable.filter((r) => r.mark === "✅").length}/${applicable.length} scenarios meet targets**${neutralRows.length ? ` (${neutralRows.join(", ")})` : ""}  `);
  lines.push(`**Worst-case RPO** from the schedule: ${formatDuration(d.rpo.worstCaseMs)} (backup every ${formatDuration(s.postgres.intervalMs)} + measured backup duration)  `);
  if (d.mode === "existing") lines.push(`**Restored backup's age at the failure** (the RPO of these backups): ${formatDuration(d.rpo.newestBackupAgeMs)}; data loss is not measured by heartbeats here (a team's source is only read)`, "", "---", "");
  else lines.push(`**Newest backup age at the failure**: ${formatDuration(d.rpo.newestBackupAgeMs)}; **measured data loss**: ${formatDuration(d.rpo.measuredLossMs ?? Number.NaN)} (${d.rpo.lostRows ?? "?"} of ${d.heartbeatRows} heartbeat rows written to the source were not in the restore)`, "", "---", "");

  lines.push("## Restore Drill Results", "");
  lines.push("### Test Scenario: Complete Database Restore", "");
  lines.push(`**Date**: ${d.failureAt.slice(0, 10)}  `);
  lines.push(`**Failure declared**: ${d.failureAt}  `);
  lines.push(`**Duration** (failure -> smoke checks passed): ${formatDuration(pg.rtoMs ?? Number.NaN)}  `);
  lines.push(`**Backup Source**: \`${pg.backupId ?? "none"}\`${d.postgresRestore ? ` (${formatBytes(d.postgresRestore.storedBytes)} stored, ${formatBytes(d.postgresRestore.dumpBytes)} dump)` : ""}`, "");
  if (d.postgresRestore?.localDiskBytes !== undefined) lines.push(`**Local disk used by the restore**: ${formatBytes(d.postgresRestore.localDiskBytes)} (the decrypted archive pg_restore read, in ${d.postgresRestore.localDir ?? "the temporary folder"}, removed afterwards; its free space is checked before the download starts)`, "");
  if (pg.configured && !pg.ok) lines.push(`**Result**: ❌ recovery failed: ${pg.error ?? "unknown"}`, "");
  if (pg.skipped.length) lines.push(`**Skipped backups** (failed their checks, the drill fell back to the previous one): ${pg.skipped.map((k) => `\`${k.id}\`: ${k.reason}`).join("; ")}`, "");
  lines.push("#### Steps Executed", "");
  lines.push(table(["#", "Step", "Duration", "Result"], pg.steps.map((step, i) => [String(i + 1), step.name, formatDuration(step.durationMs), `${step.status === "ok" ? "✅" : step.status === "skipped" ? "⚠️" : "❌"} ${step.detail}`])), "");
  if (d.rates && d.postgresRestore) {
    lines.push(`**Rate**: ${d.rates.dumpGbPerMin.toFixed(3)} GB/min of dump (${formatBytes(d.postgresRestore.dumpBytes)} / ${formatDuration(d.postgresRestore.restoreMs)}), ${d.rates.databaseGbPerMin.toFixed(3)} GB/min of database (${formatBytes(d.postgresRestore.restoredBytes)})  `);
  }
  if (d.projection) {
    lines.push(`**Projected RTO** for a ${formatBytes(d.projection.databaseBytes)} production database (projection from this run's rate, not a measurement): ${formatDuration(d.projection.projectedMs)}  `);
  }
  lines.push("", "#### Smoke Checks", "");
  lines.push(table(["Check", "Result", "Detail", "Time"], d.smoke.map((c) => [c.name, c.status === "passed" ? "✅ PASS" : "❌ FAIL", c.detail, formatDuration(c.durationMs)])), "");
  lines.push(`**Total RTO**: ${formatDuration(pg.rtoMs ?? Number.NaN)} ${pg.rtoMs !== undefined && pg.rtoMs <= o.rtoMs ? "✅" : "❌"} (target: <${formatDuration(o.rtoMs)})  `);
  if (d.mode === "existing") lines.push(`**RPO**: ${formatDuration(d.rpo.newestBackupAgeMs)} (backup consistent at ${pg.restoredConsistentAt ?? "n/a"}, failure declared at ${d.failureAt})`, "");
  else lines.push(`**RPO**: ${formatDuration(d.rpo.measuredLossMs ?? Number.NaN)} (newest heartbeat in the restore ${d.restoredLastHeartbeat ?? "none"}, failure at ${d.failureAt})`, "");

  lines.push("### Redis and Media Recovery", "");
  for (const component of ["redis", "media"] as const) {
    const r = d.recoveries[component];
    if (!r.configured) {
      lines.push(`**${component === "redis" ? "Redis" : "Media"}**: ➖ not configured`, "");
      continue;
    }
    lines.push(`**${component === "redis" ? "Redis" : "Media"}** (${r.backupId ?? "no backup"}): ${r.ok ? "✅" : "❌"} RTO ${formatDuration(r.rtoMs ?? Number.NaN)}${r.error ? ` — ${r.error}` : ""}`, "");
    lines.push(table(["Step", "Duration", "Result"], r.steps.map((step) => [step.name, formatDuration(step.durationMs), step.detail])), "");
  }
  if (d.pitr) {
    const p = d.pitr;
    lines.push("### Point-in-time Recovery: Accidental DELETE", "");
    lines.push(`**Result**: ${p.verdict === "passed" ? "✅" : p.verdict === "failed" ? "❌" : "⚠️ not verified"} ${p.detail}  `);
    if (p.deletedAt) lines.push(`**Fault**: ${p.rowsDeleted} rows deleted at ${p.deletedAt} while the application kept writing; recovered to ${p.targetTime} (one second before) from base backup \`${p.baseBackupId}\` plus ${p.walFiles ?? 0} WAL files streamed by \`pg_receivewal --synchronous\`  `);
    if (p.lossMs !== undefined) lines.push(`**RPO** (newest heartbeat recovered vs the target): ${formatDuration(p.lossMs)}; **RTO** (restore + recovery): ${formatDuration(p.rtoMs ?? Number.NaN)}; the dump-based RPO above is ${formatDuration(d.rpo.measuredLossMs ?? Number.NaN)}  `);
    lines.push("");
    if (p.steps.length) lines.push(table(["Step", "Duration", "Result"], p.steps.map((step) => [step.name, formatDuration(step.durationMs), `${step.status === "ok" ? "✅" : step.status === "skipped" ? "⚠️" : "❌"} ${step.detail}`])), "");
  }
  lines.push("---", "");

  lines.push(...renderScenarioSections(report));

  lines.push("## Operational Tests", "");
  lines.push(`### Test Summary (${report.opsTests.length} tests, ${report.opsSource})`, "");
  const totalMs = report.opsTests.reduce((a, t) => a + t.durationMs, 0);
  lines.push(table(["Test", "Pass", "Runtime", "Facts"], [
    ...report.opsTests.map((t) => [`\`${t.name}\``, t.status === "passed" ? "✅" : t.status === "failed" ? "❌" : t.status === "not configured" ? "➖ not configured" : "⚠️ not verified", formatDuration(t.durationMs), t.detail]),
    ["**TOTAL**", `**${passed}/${report.opsTests.length}**`, `**${formatDuration(totalMs)}**`, ""],
  ]), "", "---", "");

  lines.push("## Backups Taken in This Run", "");
  if (d.mode === "existing") lines.push("None: this run drilled the existing backups and wrote nothing into the source or the backup prefixes.", "");
  lines.push(table(["Backup", "Stored", "Took", "Consistent at", "SHA-256 (stored)"], d.backups.map((b) => [
    `\`${b.id}\``, formatBytes(b.storedBytes), formatDuration(d.backupDurations[b.id] ?? Number.NaN), b.consistentAt, `\`${b.parts[0]?.sha256.slice(0, 16)}…\``,
  ])), "");
  lines.push(table(["Phase", "Duration", "Result"], d.phases.map((p) => [p.name, formatDuration(p.durationMs), p.detail])), "", "---", "");

  const charts = [
    trendChart("PostgreSQL dump size (MB)", "MB", report.history, (p) => (p.dumpBytes === undefined ? undefined : p.dumpBytes / 1e6)),
    trendChart("Restore rate (GB/min of database)", "GB/min", report.history, (p) => p.restoreGbPerMin),
    trendChart("Measured RTO (s)", "seconds", report.history, (p) => (p.rtoMs === undefined ? undefined : p.rtoMs / 1000)),
  ].filter((c): c is string => c !== undefined);
  lines.push("## Trends", "");
  lines.push(charts.length ? charts.join("\n\n") : `Only ${report.history.length} run(s) recorded in the history so far; trends appear from the second run.`, "", "---", "");

  lines.push(...renderRunbook(report));

  lines.push("## Recommendations", "");
  lines.push(...report.recommendations.map((r, i) => `${i + 1}. ${r}`), "", "---", "");
  lines.push(`**DR Status**: ${report.overall.mark} ${report.overall.label}  `);
  lines.push(`**Drill run**: ${d.startedAt} -> ${d.finishedAt}  `);
  lines.push(`*Generated by dr-drill on ${date}.*`, "");
  return lines.join("\n");
}
