import { configuredComponents, formatBytes, formatDuration } from "../../config/index.ts";
import { readComponentStatus, statusMetrics, writeTextfile, type ComponentStatus } from "../../status/index.ts";
import { messageOf } from "../../errors/index.ts";
import { listBackupUploads, measureReplicaLag, openRepository } from "../../repository/index.ts";
import { formatTable, say, warn } from "../output.ts";
import { componentsToRead, openRepositorySession } from "../session.ts";

/**
 * `dr-drill status [component] [--json] [--prometheus FILE]`: freshness of each configured
 * component from the repository alone (newest complete backup, its age against the
 * interval plus grace, the last recorded attempt). Exit 0 when all are fresh and their
 * last attempts succeeded, 1 otherwise (each problem named), 2 on configuration errors.
 */
export async function statusCommand(which: string | undefined, options: { target?: string; repo?: string; json?: boolean; prometheus?: string }): Promise<number> {
  await using session = await openRepositorySession({ target: options.target, repo: options.repo });
  const { storage } = session.repository;
  await storage.check();
  const configured = configuredComponents(session.config);
  const components = which === undefined ? (["postgres", "redis", "media"] as const) : componentsToRead(session.config, which);
  const now = new Date();
  const statuses: ComponentStatus[] = [];
  for (const component of components) {
    statuses.push(await readComponentStatus(storage, session.config, component, configured.includes(component) || which !== undefined, now));
  }
  if (session.config.replica && session.repository.name === "primary") {
    // Opened only when configured; a replica that cannot be read is a problem of every component.
    try {
      await using replica = await openRepository(session.config, { name: "replica" });
      for (const status of statuses.filter((s) => s.verdict !== "not configured")) {
        const lag = await measureReplicaLag(storage, replica.storage, status.component);
        const ageMs = lag.newestInReplica ? Math.max(0, now.getTime() - Date.parse(lag.newestInReplica.consistentAt)) : undefined;
        status.replica = { location: replica.storage.location, newest: lag.newestInReplica?.id, ageMs, missing: lag.missing };
        if (lag.missing.length && (ageMs === undefined || ageMs > status.intervalMs + status.graceMs)) {
          status.problems.push(`${status.component}: replica ${replica.storage.location} lags ${lag.missing.length} backup(s) behind (newest there: ${lag.newestInReplica?.id ?? "none"})`);
          status.ok = false;
        }
      }
    } catch (error) {
      for (const status of statuses.filter((s) => s.verdict !== "not configured")) {
        status.problems.push(`${status.component}: replica unreadable: ${messageOf(error).split("\n")[0]}`);
        status.ok = false;
      }
    }
  }
  // The live RPO of point-in-time recovery: how old the newest archived WAL is.
  let wal: { name: string; ageMs: number } | undefined;
  if (statuses.some((s) => s.component === "postgres" && s.verdict !== "not configured")) {
    const { listWalArchive } = await import("../../components/wal/wal-archive.ts");
    const newest = (await listWalArchive(storage)).newest;
    if (newest) wal = { name: newest.name, ageMs: Math.max(0, now.getTime() - newest.lastModified) };
  }
  const uploads = await listBackupUploads(storage);
  const families = statusMetrics(statuses, now);
  if (uploads.uploads) {
    families.push({ name: "dr_drill_incomplete_uploads", help: "Incomplete multipart uploads under the backup prefixes (left by killed backups; prune aborts old ones).", type: "gauge", samples: [{ name: "dr_drill_incomplete_uploads", value: uploads.uploads.length }] });
  }
  if (wal) families.push({ name: "dr_drill_wal_newest_age_seconds", help: "Age of the newest WAL file in the archive (the point-in-time recovery RPO right now).", type: "gauge", samples: [{ name: "dr_drill_wal_newest_age_seconds", value: wal.ageMs / 1000 }] });
  if (options.prometheus) await writeTextfile(options.prometheus, families);
  if (options.json) {
    say(JSON.stringify({ at: now.toISOString(), repository: storage.location, ok: statuses.every((s) => s.ok), components: statuses, incompleteUploads: uploads.uploads?.length ?? `not verified: ${uploads.notVerified}`, wal }, null, 2));
  } else {
    say(`Repository ${storage.location} at ${now.toISOString()}`);
    say(formatTable(
      ["COMPONENT", "STATUS", "NEWEST", "AGE", "SIZE", "INTERVAL", "LAST ATTEMPT"],
      statuses.map((s) => [
        s.component,
        s.verdict,
        s.newest?.id ?? "-",
        s.ageMs === undefined ? "-" : formatDuration(s.ageMs),
        s.newest ? formatBytes(s.newest.storedBytes) : "-",
        s.verdict === "not configured" ? "-" : formatDuration(s.intervalMs),
        s.lastAttempt ? `${s.lastAttempt.outcome} ${s.lastAttempt.finishedAt ?? s.lastAttempt.startedAt}` : "none recorded",
      ]),
    ));
    for (const s of statuses.filter((x) => x.replica)) {
      say(`${s.component}: replica ${s.replica!.location} newest ${s.replica!.newest ?? "none"}${s.replica!.ageMs === undefined ? "" : ` (${formatDuration(s.replica!.ageMs)} old)`}, ${s.replica!.missing.length} backup(s) behind`);
    }
    if (wal) say(`wal: newest ${wal.name}, stored ${formatDuration(wal.ageMs)} ago (the point-in-time RPO now)`);
    say(uploads.notVerified !== undefined ? `incomplete uploads: not verified (${uploads.notVerified})` : `incomplete uploads: ${uploads.uploads.length}`);
    for (const problem of statuses.flatMap((s) => s.problems)) warn(`dr-drill: ${problem}`);
  }
  return statuses.every((s) => s.ok) ? 0 : 1;
}
