import { join } from "node:path";
import { formatBytes, formatDuration } from "../../config/index.ts";
import type { StartedTarget } from "../../targets/index.ts";
import { applyRetention, planComponentRetention, resolveRecipients, runBackup, type BackupContext } from "../../components/index.ts";
import { DrError, messageOf } from "../../errors/index.ts";
import { measureReplicaLag, openRepository, replicateBackup, type Repository } from "../../repository/index.ts";
import { listBackupFolders, manifestKey, readManifest, type BackupManifest } from "../../manifest/index.ts";
import { pruneAttempts, recordAttemptStart } from "../../status/index.ts";
import { assertSourceReachable } from "../../targets/index.ts";
import { relaxExternalMemoryGc } from "../gc-tuning.ts";
import { say } from "../output.ts";
import { backupMeter, runWithProgress } from "../progress.ts";
import { openBackupSession } from "../backup-session.ts";

export interface BackupCommandOptions {
  target?: string;
  allowUnencrypted?: boolean;
  prune?: boolean;
  /** A physical base backup (postgres only) instead of pg_dump. */
  physical?: boolean;
}

/**
 * What the previous backup of this kind stored, the estimate a meter's ETA runs on: the
 * bytes of the newest folder with a manifest, dump or physical base backup (`base.tar…`)
 * as asked, from one listing (no manifest is read: a cron backup of a long history pays
 * nothing for it). None for media, whose upload is only what changed since its last
 * snapshot, nor when the listing fails (the backup does not depend on it).
 */
async function previousStoredBytes(storage: Repository["storage"], component: BackupManifest["component"], physical: boolean): Promise<number | undefined> {
  if (component === "media") return undefined;
  try {
    const folders = await listBackupFolders(storage, component);
    const previous = folders.filter((f) => f.keys.includes(manifestKey(f.id)) && f.keys.some((k) => k.includes("/base.tar")) === physical).at(-1);
    return previous?.bytes || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A physical base backup. Its WAL must reach the repository (the team's `wal stream` or
 * archive_command); the embedded workspace has neither between commands, so there a
 * streamer runs for the length of the backup and its slot is dropped afterwards.
 */
async function backupPhysical(ctx: BackupContext, workspace: StartedTarget | undefined, spoolDir: string): Promise<BackupManifest> {
  const { backupPostgresPhysical } = await import("../../components/postgres/physical-backup.ts");
  relaxExternalMemoryGc();
  if (!workspace) return await backupPostgresPhysical(ctx);
  const { dropWalStreamSlot, startWalStream } = await import("../../components/wal/wal-stream.ts");
  const slot = "dr_drill_workspace";
  const streamer = await startWalStream({ storage: ctx.storage, recipients: ctx.recipients, postgres: ctx.postgres, spoolDir, slot, intervalMs: 1000 });
  try {
    return await backupPostgresPhysical(ctx);
  } finally {
    await streamer.stop();
    await dropWalStreamSlot(ctx.postgres, slot).catch(() => undefined);
  }
}

/**
 * `dr-drill backup <component|all>`: each configured component backed up in turn (a
 * failure does not stop the others, but fails the command), every attempt recorded in the
 * bucket for `status`; with --prune, retention runs only when every backup succeeded.
 */
export async function backupCommand(which: string, options: BackupCommandOptions): Promise<number> {
  if (options.physical && which !== "postgres") {
    throw new DrError("CONFIG_INVALID", `unable to back up ${which} --physical: only PostgreSQL has physical base backups`, { hint: "dr-drill backup postgres --physical", exitCode: 2 });
  }
  await using session = await openBackupSession({ target: options.target, which });
  const { config, source, repository, components } = session;
  // The repository's recipients include those of a configured identity file (or the workspace key).
  const recipients = resolveRecipients({ ...config, encryption: { ...config.encryption, recipients: repository.recipients } }, Boolean(options.allowUnencrypted));
  await repository.storage.check();
  // The fixtures load only on the embedded workspace: a production backup does not pay for them.
  const seeding = session.workspace ? await import("../../../fixtures/seed-source.ts") : undefined;
  if (session.workspace && seeding && !(await seeding.isSeeded(session.workspace))) {
    say("Seeding the embedded servers with the DeltaCrown fixtures (first run of this workspace)...");
    await seeding.seedSource(session.workspace, config);
  }
  const manifests: BackupManifest[] = [];
  const copies: string[] = [];
  // The copy in the second repository, when there is one: opened once, after the first backup.
  let replica: Repository | undefined;
  const replicationErrors: string[] = [];
  const errors = await runWithProgress(
    components.map((component) => ({
      title: `Back up ${component}`,
      run: async (_ctx: object, update: (s: string) => void) => {
        const attempt = await recordAttemptStart(repository.storage, component);
        try {
          await assertSourceReachable(source, [component]);
          const meter = backupMeter(`back up ${component}${options.physical ? " --physical" : ""}`, await previousStoredBytes(repository.storage, component, options.physical ?? false), update);
          const ctx: BackupContext = {
            storage: repository.storage,
            config,
            postgres: source.postgres!,
            redis: source.redis!,
            mediaDir: source.mediaDir!,
            recipients,
            onProgress: (_step, bytes) => meter.update(bytes),
          };
          const manifest = await (options.physical ? backupPhysical(ctx, session.workspace, join(config.stateDir, "wal-spool-workspace")) : runBackup(component, ctx)).finally(() => meter.done());
          manifests.push(manifest);
          await attempt.finish({ backupId: manifest.id });
          if (config.replica) {
            try {
              replica ??= await openRepository(config, { name: "replica" });
              // Catch up: every complete backup newer than the replica's newest, this one last.
              const lag = await measureReplicaLag(repository.storage, replica.storage, component);
              for (const id of lag.missing) {
                const copy = await replicateBackup(repository.storage, replica.storage, id === manifest.id ? manifest : await readManifest(repository.storage, id));
                update(`copied ${id} to ${replica.storage.location}`);
                copies.push(`${id}: copied to ${replica.storage.location} (${copy.copied} objects, ${formatBytes(copy.bytes)}; ${copy.present} already there)`);
              }
            } catch (error) {
              replicationErrors.push(`${manifest.id}: ${messageOf(error).split("\n")[0]}`);
            }
          }
        } catch (error) {
          await attempt.finish({ error: messageOf(error) });
          throw error;
        }
      },
    })),
    {},
  );
  await replica?.close();
  for (const m of manifests) {
    const took = Date.parse(m.finishedAt) - Date.parse(m.startedAt);
    say(`${m.id}: ${formatBytes(m.storedBytes)} stored in ${formatDuration(took)}, ${m.encryption.format === "age" ? "encrypted (age)" : "NOT encrypted"}, sha256 ${m.parts[0]?.sha256.slice(0, 16)}…`);
  }
  for (const line of copies) say(line);
  if (errors.length) {
    say(`${errors.length} of ${components.length} backups failed; retention not run.`);
    throw errors[0];
  }
  if (replicationErrors.length) {
    // The backups are complete in the primary; the replica lags until the next copy (status shows it).
    throw new DrError("STORAGE_FAILED", `unable to copy ${replicationErrors.length} backup(s) to repository 'replica': ${replicationErrors.join("; ")}`, {
      hint: "the backups are complete in the primary repository; 'dr-drill status' shows the replica's lag, and the next backup copies again",
    });
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
