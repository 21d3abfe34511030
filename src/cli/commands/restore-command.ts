import { join, resolve } from "node:path";
import { describePostgres, parsePostgresUrl } from "../../clients/index.ts";
import { formatBytes, formatDuration } from "../../config/index.ts";
import { restoreMedia, restorePostgres, restoreRedisToDir } from "../../components/index.ts";
import { StepRecorder } from "../../measure/step-recorder.ts";
import { DrError } from "../../errors/index.ts";
import { findLatestBackup, listCompleteBackups, readManifest, type BackupManifest } from "../../manifest/index.ts";
import { workspaceDir } from "../../repository/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { externalSource, NATIVE_SOURCE_DATABASE, startNativePostgres, type PostgresEndpoint, type StartedPostgres } from "../../targets/index.ts";
import { addSecrets, say } from "../output.ts";
import { printSteps, transferMeter } from "../progress.ts";
import { openRepositorySession, parseComponentList } from "../session.ts";

export interface RestoreCommandOptions {
  target?: string;
  latest?: boolean;
  backup?: string;
  into?: string;
  replace?: boolean;
  repo?: string;
}

/** The backup a restore/verify names: --backup ID, else the newest complete one. */
export async function pickBackup(storage: Storage, component: BackupManifest["component"], backup: string | undefined): Promise<BackupManifest> {
  if (!backup) {
    if (component !== "postgres") return await findLatestBackup(storage, component);
    // A logical restore takes the newest pg_dump archive; base backups go through --physical.
    const dumps = (await listCompleteBackups(storage, "postgres")).filter((m) => !m.physical);
    const newest = dumps.at(-1);
    if (!newest) {
      throw new DrError("BACKUP_NOT_FOUND", `unable to find latest postgres backup in '${storage.location}': there are no complete pg_dump backups`, {
        hint: "run 'dr-drill backup postgres' first, or restore a base backup with 'dr-drill restore postgres --physical'",
      });
    }
    return newest;
  }
  const manifest = await readManifest(storage, backup);
  if (manifest.component !== component) {
    throw new DrError("CONFIG_INVALID", `unable to restore backup '${backup}': it is a ${manifest.component} backup, not ${component}`, { exitCode: 2 });
  }
  if (manifest.physical) {
    throw new DrError("CONFIG_INVALID", `unable to restore backup '${backup}' with pg_restore: it is a physical base backup`, {
      hint: `restore it with 'dr-drill restore postgres --physical --backup ${backup} --into DIR'`,
      exitCode: 2,
    });
  }
  return manifest;
}

/**
 * Where to restore PostgreSQL: a URL without a password (argv is public); the password is
 * PGPASSWORD from the environment, or the embedded workspace's own for its server. A URL
 * with no host (`postgres:///NAME`) means the embedded workspace's server (its port
 * changes every run); elsewhere a host is required.
 */
function parseInto(url: string): { into: PostgresEndpoint; hostless: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DrError("CONFIG_INVALID", `unable to parse --into '${url}': expected postgres://USER@HOST:PORT/NAME`, { exitCode: 2 });
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol) || !parsed.pathname.slice(1)) {
    throw new DrError("CONFIG_INVALID", `unable to parse --into '${url}': expected postgres://USER@HOST:PORT/NAME (with a database name)`, { exitCode: 2 });
  }
  if (parsed.password) {
    throw new DrError("CONFIG_INVALID", "unable to use --into with a password in it: command lines are visible to every user of the machine", {
      hint: "drop the password from the URL and set PGPASSWORD (or use ~/.pgpass)",
      exitCode: 2,
    });
  }
  return { into: { ...parsePostgresUrl(url), password: process.env.PGPASSWORD }, hostless: parsed.hostname === "" };
}

/**
 * `dr-drill restore <postgres|redis|media> [--latest|--backup ID] --into TARGET`, from the
 * repository alone: the source database, Redis and media folder may all be gone.
 */
export async function restoreCommand(which: string, options: RestoreCommandOptions): Promise<number> {
  const [component] = parseComponentList(which, false);
  if (!options.into) {
    throw new DrError("CONFIG_INVALID", `unable to restore ${component}: --into is required`, {
      hint: component === "postgres" ? "--into postgres://USER@HOST:PORT/NEW_DATABASE" : "--into DIR",
      exitCode: 2,
    });
  }
  if (options.latest && options.backup) throw new DrError("CONFIG_INVALID", "unable to restore: give --latest or --backup ID, not both", { exitCode: 2 });
  const parsedInto = component === "postgres" ? parseInto(options.into) : undefined;
  await using session = await openRepositorySession({ target: options.target, repo: options.repo });
  const { storage, identities } = session.repository;
  await storage.check();
  const manifest = await pickBackup(storage, component!, options.backup);
  // Bytes, rate and ETA of the download: a line rewritten on a terminal, one every 10 s in logs.
  const meter = component === "media" ? undefined : transferMeter(`download ${manifest.id}`, manifest.parts[0]?.size);
  const backup = { storage, manifest, identities, onProgress: meter?.update };
  say(`Restoring ${manifest.id} (finished ${manifest.finishedAt}, consistent at ${manifest.consistentAt})`);
  const started = performance.now();
  if (component === "postgres") {
    let { into } = parsedInto!;
    let source = externalSource(session.config).postgres;
    let workspaceServer: StartedPostgres | undefined;
    if (parsedInto!.hostless) {
      if (session.config.target !== "native") {
        throw new DrError("CONFIG_INVALID", `unable to restore into '${options.into}': a URL without a host means the embedded workspace's server, and the target is '${session.config.target}'`, {
          hint: "give the server: --into postgres://USER@HOST:PORT/NEW_DATABASE (password in PGPASSWORD)",
          exitCode: 2,
        });
      }
      workspaceServer = await startNativePostgres({ database: NATIVE_SOURCE_DATABASE, label: "pg-source", stateDir: join(workspaceDir(session.config), "postgres") });
      addSecrets([workspaceServer.endpoint.password]);
      source = workspaceServer.endpoint;
      into = { ...workspaceServer.endpoint, database: into.database };
    }
    try {
      const recorder = new StepRecorder(printSteps("  "));
      const result = await restorePostgres({ ...backup, into, source, jobs: session.config.postgres.restoreJobs, recorder, replace: options.replace });
      say(`Restored into ${describePostgres(into)}: ${formatBytes(result.dumpBytes)} dump -> ${formatBytes(result.restoredBytes)} database in ${formatDuration(performance.now() - started)}; local disk used: ${formatBytes(result.localDiskBytes)} in ${result.localDir} (the decrypted archive pg_restore read, removed)`);
    } finally {
      await workspaceServer?.stop();
    }
    meter?.done();
  } else if (component === "redis") {
    const { file, bytes } = await restoreRedisToDir(backup, resolve(options.into));
    meter?.done();
    say(`Wrote ${file} (${formatBytes(bytes)}), checked by SHA-256 and redis-check-rdb`);
  } else {
    const { files, bytes } = await restoreMedia(backup, resolve(options.into));
    say(`Restored ${files} files (${formatBytes(bytes)}) into ${resolve(options.into)}, every SHA-256 checked`);
  }
  return 0;
}
