import { formatDuration } from "../../config/index.ts";
import { verifyBackup, type VerifyResult } from "../../components/index.ts";
import { findLatestBackup, listBackups, readManifest, parseBackupId } from "../../manifest/index.ts";
import { DrError } from "../../errors/index.ts";
import { say } from "../output.ts";
import { componentsToRead, openRepositorySession } from "../session.ts";

/**
 * `dr-drill verify [component] [--latest|--backup ID|--all]`: re-download, SHA-256, decrypt
 * and read each backup with its own tool, from the repository alone. Exit 1 when any
 * check failed or could not run.
 */
export async function verifyCommand(which: string | undefined, options: { target?: string; repo?: string; backup?: string; all?: boolean; json?: boolean }): Promise<number> {
  await using session = await openRepositorySession({ target: options.target, repo: options.repo });
  const { storage, identities } = session.repository;
  await storage.check();
  const manifests = [];
  const untrusted: VerifyResult[] = [];
  if (options.backup) {
    const parsed = parseBackupId(options.backup);
    if (which && parsed && parsed.component !== which) {
      throw new DrError("CONFIG_INVALID", `unable to verify backup '${options.backup}': it is a ${parsed.component} backup, not ${which}`, { exitCode: 2 });
    }
    manifests.push(await readManifest(storage, options.backup));
  } else {
    for (const component of componentsToRead(session.config, which)) {
      if (!options.all) {
        manifests.push(await findLatestBackup(storage, component));
        continue;
      }
      for (const entry of await listBackups(storage, component)) {
        if (entry.status === "complete") manifests.push(entry.manifest!);
        // A manifest that cannot be trusted is a failed verification, never left out in silence.
        else if (entry.status === "invalidManifest" || entry.status === "futureDated" || entry.status === "unreadableManifest") {
          untrusted.push({ id: entry.id, component, ok: false, verdict: "failed", durationMs: 0, checks: [{ name: "manifest", status: "failed", detail: `${entry.status}: ${entry.problem ?? "no reason recorded"}` }] });
        }
      }
    }
  }
  const results: VerifyResult[] = [];
  for (const manifest of manifests) {
    const result = await verifyBackup({ storage, manifest, identities });
    results.push(result);
    if (!options.json) {
      say(`${result.ok ? "✔" : result.verdict === "not verified" ? "⚠" : "✖"} ${result.id} (${formatDuration(result.durationMs)})`);
      for (const check of result.checks) say(`    ${check.status === "ok" ? "ok" : check.status.toUpperCase()}  ${check.name}: ${check.detail}`);
    }
  }
  for (const result of untrusted) {
    results.push(result);
    if (!options.json) say(`✖ ${result.id}: ${result.checks[0]!.detail}`);
  }
  if (options.json) say(JSON.stringify(results, null, 2));
  return results.every((r) => r.ok) ? 0 : 1;
}
