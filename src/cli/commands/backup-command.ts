import { formatBytes, formatDuration } from "../../config/index.ts";
import { applyRetention, planComponentRetention, resolveRecipients, runBackup, type BackupContext } from "../../components/index.ts";
import { isSeeded, seedSource } from "../../drill/seed-source.ts";
import { messageOf } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { pruneAttempts, recordAttemptStart } from "../../status/index.ts";
import { assertSourceReachable } from "../../targets/index.ts";
import { say } from "../output.ts";
import { bytesStatus, runWithProgress } from "../progress.ts";
import { openBackupSession, parseComponentList } from "../session.ts";

export interface BackupCommandOptions {
  target?: string;
  allowUnencrypted?: boolean;
  prune?: boolean;
}

/** Parse `postgres|redis|media|all` into components (kept for callers of the old name). */
export const parseComponents = parseComponentList;

/**
 * `dr-drill backup <component|all>`: each configured component backed up in turn (a
 * failure does not stop the others, but fails the command), every attempt recorded in the
 * bucket for `status`; with --prune, retention runs only when every backup succeeded.
 */
export async function backupCommand(which: string, options: BackupCommandOptions): Promise<number> {
  await using session = await openBackupSession({ target: options.target, which });
  const { config, source, repository, components } = session;
  // The repository's recipients include those of a configured identity file (or the workspace key).
  const recipients = resolveRecipients({ ...config, encryption: { ...config.encryption, recipients: repository.recipients } }, Boolean(options.allowUnencrypted));
  await repository.storage.check();
  if (session.workspace && !(await isSeeded(session.workspace))) {
    say("Seeding the embedded servers with the DeltaCrown fixtures (first run of this workspace)...");
    await seedSource(session.workspace, config);
  }
  const manifests: BackupManifest[] = [];
  const errors = await runWithProgress(
    components.map((component) => ({
      title: `Back up ${component}`,
      run: async (_ctx: object, update: (s: string) => void) => {
        const attempt = await recordAttemptStart(repository.storage, component);
        try {
          await assertSourceReachable(source, [component]);
          const started = performance.now();
          const ctx: BackupContext = {
            storage: repository.storage,
            config,
            postgres: source.postgres!,
            redis: source.redis!,
            mediaDir: source.mediaDir!,
            recipients,
            onProgress: (_step, bytes) => update(bytesStatus("uploaded", bytes, started)),
          };
          const manifest = await runBackup(component, ctx);
          manifests.push(manifest);
          await attempt.finish({ backupId: manifest.id });
        } catch (error) {
          await attempt.finish({ error: messageOf(error) });
          throw error;
        }
      },
    })),
    {},
  );
  for (const m of manifests) {
    const took = Date.parse(m.finishedAt) - Date.parse(m.startedAt);
    say(`${m.id}: ${formatBytes(m.storedBytes)} stored in ${formatDuration(took)}, ${m.encryption.format === "age" ? "encrypted (age)" : "NOT encrypted"}, sha256 ${m.parts[0]?.sha256.slice(0, 16)}…`);
  }
  if (errors.length) {
    say(`${errors.length} of ${components.length} backups failed; retention not run.`);
    throw errors[0];
  }
  if (options.prune) {
    for (const component of components) {
      const plan = await planComponentRetention(repository.storage, component, config.schedule[component]);
      const { deletedObjects, deletedBytes, orphanNote } = await applyRetention(repository.storage, plan);
      const attempts = await pruneAttempts(repository.storage, component, config.schedule[component].retentionMs);
      say(`prune ${component}: kept ${plan.kept.length}, deleted ${plan.deletions.length} backups (${deletedObjects} objects, ${formatBytes(deletedBytes)})${attempts ? `, ${attempts} old attempt records` : ""}${orphanNote ? `; ${orphanNote}` : ""}`);
    }
  }
  return 0;
}
