import { resolve } from "node:path";
import { describePostgres, parsePostgresUrl } from "../../clients/index.ts";
import { formatBytes, formatDuration } from "../../config/index.ts";
import { restoreMedia, restorePostgres, restoreRedisToDir } from "../../components/index.ts";
import { StepRecorder } from "../../drill/step-recorder.ts";
import { DrError } from "../../errors/index.ts";
import { findLatestBackup, readManifest, type BackupManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import type { PostgresEndpoint } from "../../targets/target.ts";
import { addSecrets, say } from "../output.ts";
import { printSteps } from "../progress.ts";
import { openSession, sessionSecrets } from "../session.ts";
import { parseComponents } from "./backup-command.ts";

export interface RestoreCommandOptions {
  target?: string;
  latest?: boolean;
  backup?: string;
  into?: string;
}

/** The backup a restore/verify names: --backup ID, else the newest complete one. */
export async function pickBackup(storage: Storage, component: BackupManifest["component"], backup: string | undefined): Promise<BackupManifest> {
  if (!backup) return await findLatestBackup(storage, component);
  const manifest = await readManifest(storage, backup);
  if (manifest.component !== component) {
    throw new DrError("CONFIG_INVALID", `unable to restore backup '${backup}': it is a ${manifest.component} backup, not ${component}`, { exitCode: 2 });
  }
  return manifest;
}

/**
 * Where to restore PostgreSQL: a URL without a password (argv is public); the password is
 * the target's own for its server, else PGPASSWORD from the environment. A URL with no
 * host (`postgres:///NAME`) means the target's own server (the embedded one's port changes
 * every run).
 */
function resolveInto(url: string, known: PostgresEndpoint): PostgresEndpoint {
  let into: PostgresEndpoint;
  try {
    into = parsePostgresUrl(url);
    if (new URL(url).hostname === "") into = { ...known, database: into.database };
  } catch {
    throw new DrError("CONFIG_INVALID", `unable to parse --into '${url}': expected postgres://USER@HOST:PORT/NAME`, { exitCode: 2 });
  }
  if (!/^postgres(ql)?:$/.test(new URL(url).protocol) || !new URL(url).pathname.slice(1)) {
    throw new DrError("CONFIG_INVALID", `unable to parse --into '${url}': expected postgres://USER@HOST:PORT/NAME (with a database name)`, { exitCode: 2 });
  }
  if (new URL(url).password) {
    throw new DrError("CONFIG_INVALID", "unable to use --into with a password in it: command lines are visible to every user of the machine", {
      hint: "drop the password from the URL and set PGPASSWORD (or use ~/.pgpass)",
      exitCode: 2,
    });
  }
  const sameServer = into.port === known.port && (into.host === known.host || (into.host === "localhost" && known.host === "127.0.0.1"));
  return { ...into, password: sameServer && into.user === known.user ? known.password : process.env.PGPASSWORD };
}

/** `dr-drill restore <postgres|redis|media> [--latest|--backup ID] --into TARGET`. */
export async function restoreCommand(which: string, options: RestoreCommandOptions): Promise<number> {
  const [component] = parseComponents(which, false);
  if (!options.into) {
    throw new DrError("CONFIG_INVALID", `unable to restore ${component}: --into is required`, {
      hint: component === "postgres" ? "--into postgres://USER@HOST:PORT/NEW_DATABASE" : "--into DIR",
      exitCode: 2,
    });
  }
  if (options.latest && options.backup) throw new DrError("CONFIG_INVALID", "unable to restore: give --latest or --backup ID, not both", { exitCode: 2 });
  await using session = await openSession({ target: options.target, persistent: true });
  addSecrets(await sessionSecrets(session));
  await session.storage.check();
  const manifest = await pickBackup(session.storage, component!, options.backup);
  const source = { storage: session.storage, manifest, identities: session.identities };
  say(`Restoring ${manifest.id} (finished ${manifest.finishedAt}, consistent at ${manifest.consistentAt})`);
  const started = performance.now();
  if (component === "postgres") {
    const into = resolveInto(options.into, session.target.postgres);
    const recorder = new StepRecorder(printSteps("  "));
    const result = await restorePostgres({ ...source, into, source: session.target.postgres, jobs: session.config.postgres.restoreJobs, recorder });
    say(`Restored into ${describePostgres(into)}: ${formatBytes(result.dumpBytes)} dump -> ${formatBytes(result.restoredBytes)} database in ${formatDuration(performance.now() - started)}`);
  } else if (component === "redis") {
    const { file, bytes } = await restoreRedisToDir(source, resolve(options.into));
    say(`Wrote ${file} (${formatBytes(bytes)}), checked by SHA-256 and redis-check-rdb`);
  } else {
    const { files, bytes } = await restoreMedia(source, resolve(options.into));
    say(`Restored ${files} files (${formatBytes(bytes)}) into ${resolve(options.into)}, every SHA-256 checked`);
  }
  return 0;
}
