import { COMPONENTS, type ComponentName, formatBytes, formatDuration } from "../../config/index.ts";
import { applyRetention, planComponentRetention, resolveRecipients, runBackup, type BackupContext } from "../../components/index.ts";
import { isSeeded, seedSource } from "../../drill/seed-source.ts";
import { DrError } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { addSecrets, say } from "../output.ts";
import { bytesStatus, runWithProgress } from "../progress.ts";
import { openSession, sessionSecrets } from "../session.ts";

export interface BackupCommandOptions {
  target?: string;
  allowUnencrypted?: boolean;
  prune?: boolean;
}

/** Parse `postgres|redis|media|all` into components. */
export function parseComponents(value: string | undefined, allowAll = true): ComponentName[] {
  if (value === undefined || (allowAll && value === "all")) return [...COMPONENTS];
  if ((COMPONENTS as readonly string[]).includes(value)) return [value as ComponentName];
  throw new DrError("CONFIG_INVALID", `unable to parse component '${value}': expected ${COMPONENTS.join(", ")}${allowAll ? " or all" : ""}`, { exitCode: 2 });
}

/**
 * `dr-drill backup <component|all>`: each component backed up in turn (a failure does not
 * stop the others, but fails the command); with --prune, retention runs only when every
 * backup succeeded.
 */
export async function backupCommand(which: string, options: BackupCommandOptions): Promise<number> {
  const components = parseComponents(which);
  let recipients: string[] = [];
  await using session = await openSession({
    target: options.target,
    persistent: true,
    beforeStart: (config) => {
      recipients = resolveRecipients(config, Boolean(options.allowUnencrypted));
    },
  });
  addSecrets(await sessionSecrets(session));
  await session.storage.check();
  if (session.target.kind === "native" && !(await isSeeded(session.target))) {
    say("Seeding the embedded servers with the DeltaCrown fixtures (first run of this workspace)...");
    await seedSource(session.target, session.config);
  }
  const manifests: BackupManifest[] = [];
  const errors = await runWithProgress(
    components.map((component) => ({
      title: `Back up ${component}`,
      run: async (_ctx: object, update: (s: string) => void) => {
        const started = performance.now();
        const ctx: BackupContext = {
          storage: session.storage,
          config: session.config,
          postgres: session.target.postgres,
          redis: session.target.redis,
          mediaDir: session.target.mediaDir,
          recipients,
          onProgress: (_step, bytes) => update(bytesStatus("uploaded", bytes, started)),
        };
        manifests.push(await runBackup(component, ctx));
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
      const plan = await planComponentRetention(session.storage, component, session.config.schedule[component]);
      const { deletedObjects, deletedBytes, orphanNote } = await applyRetention(session.storage, plan);
      say(`prune ${component}: kept ${plan.kept.length}, deleted ${plan.deletions.length} backups (${deletedObjects} objects, ${formatBytes(deletedBytes)})${orphanNote ? `; ${orphanNote}` : ""}`);
    }
  }
  return 0;
}
