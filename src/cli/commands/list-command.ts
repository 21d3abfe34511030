import { configuredComponents, formatBytes, formatDuration } from "../../config/index.ts";
import { INCOMPLETE_UPLOAD_BOUND_MS, listBackupUploads } from "../../repository/index.ts";
import { listBackups, type BackupEntry } from "../../manifest/index.ts";
import { formatTable, say } from "../output.ts";
import { componentsToRead, openRepositorySession } from "../session.ts";

/**
 * `dr-drill list [component] [--json]`: every backup folder with its status, read from the
 * repository alone (works while the source is down). A component that is not configured
 * and has no backups shows as "not configured".
 */
export async function listCommand(which: string | undefined, options: { target?: string; repo?: string; json?: boolean }): Promise<number> {
  await using session = await openRepositorySession({ target: options.target, repo: options.repo });
  const { storage } = session.repository;
  await storage.check();
  const configured = configuredComponents(session.config);
  const components = which === undefined ? (["postgres", "redis", "media"] as const) : componentsToRead(session.config, which);
  const entries: BackupEntry[] = [];
  const notConfigured: string[] = [];
  for (const component of components) {
    const found = await listBackups(storage, component);
    entries.push(...found);
    if (found.length === 0 && !configured.includes(component)) notConfigured.push(component);
  }
  if (options.json) {
    say(JSON.stringify([
      ...entries.map((e) => ({
        id: e.id,
        component: e.component,
        status: e.status,
        startedAt: e.date.toISOString(),
        finishedAt: e.manifest?.finishedAt,
        storedBytes: e.manifest?.storedBytes ?? e.bytes,
        encrypted: e.manifest ? e.manifest.encryption.format === "age" : undefined,
        sha256: e.manifest?.parts[0]?.sha256,
        problem: e.problem,
      })),
      ...notConfigured.map((component) => ({ component, status: "not configured" })),
    ], null, 2));
    return 0;
  }
  if (entries.length === 0) say(`No backups in ${storage.location}.`);
  else {
    say(formatTable(
      ["ID", "STATUS", "STORED", "ENCRYPTED", "FINISHED"],
      entries.map((e) => [e.id, e.status, formatBytes(e.manifest?.storedBytes ?? e.bytes), e.manifest ? (e.manifest.encryption.format === "age" ? "yes" : "NO") : "-", e.manifest?.finishedAt ?? "-"]),
    ));
  }
  for (const e of entries.filter((x) => x.problem)) say(`${e.id}: ${e.status}: ${e.problem}`);
  for (const component of notConfigured) say(`${component}: not configured`);
  const uploads = await listBackupUploads(storage);
  if (uploads.notVerified !== undefined) say(`incomplete uploads: not verified (${uploads.notVerified})`);
  else if (uploads.uploads.length) say(`incomplete uploads: ${uploads.uploads.length} (${uploads.uploads.map((u) => `${u.key}, ${formatDuration(u.ageMs)} old`).slice(0, 5).join("; ")}); 'dr-drill prune' aborts those older than ${formatDuration(INCOMPLETE_UPLOAD_BOUND_MS)}`);
  return 0;
}
