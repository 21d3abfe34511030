import { resolve } from "node:path";
import { formatBytes, formatDuration } from "../../config/index.ts";
import { restorePostgresPhysical, type RecoveryTarget } from "../../components/postgres/physical-restore.ts";
import { DrError } from "../../errors/index.ts";
import { say } from "../output.ts";
import { openRepositorySession } from "../session.ts";

export interface PhysicalRestoreCommandOptions {
  target?: string;
  repo?: string;
  into?: string;
  toTime?: string;
  toLsn?: string;
  latest?: boolean;
  verify?: boolean;
}

/** `--to-time T | --to-lsn L | --latest` as a recovery target (exactly one, --latest by default). */
export function parseRecoveryTarget(options: Pick<PhysicalRestoreCommandOptions, "toTime" | "toLsn" | "latest">): RecoveryTarget {
  const given = [options.toTime !== undefined, options.toLsn !== undefined, Boolean(options.latest)].filter(Boolean).length;
  if (given > 1) throw new DrError("CONFIG_INVALID", "unable to restore: give one of --to-time, --to-lsn or --latest", { exitCode: 2 });
  if (options.toTime !== undefined) {
    const time = new Date(options.toTime);
    if (Number.isNaN(time.getTime())) {
      throw new DrError("CONFIG_INVALID", `unable to parse --to-time '${options.toTime}': expected an ISO 8601 time such as 2026-12-02T10:15:00Z`, { exitCode: 2 });
    }
    return { kind: "time", time };
  }
  if (options.toLsn !== undefined) {
    if (!/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(options.toLsn)) {
      throw new DrError("CONFIG_INVALID", `unable to parse --to-lsn '${options.toLsn}': expected an LSN such as 0/3000060`, { exitCode: 2 });
    }
    return { kind: "lsn", lsn: options.toLsn.toUpperCase() };
  }
  return { kind: "latest" };
}

/**
 * `dr-drill restore postgres --physical --into DIR [--to-time T | --to-lsn L | --latest]
 * [--verify]`: a self-contained data directory that `pg_ctl start` (as the postgres user)
 * recovers to the target and promotes, with no credentials, keys or dr-drill needed then.
 * --verify starts it on a private socket, waits for the end of recovery and reports the
 * point reached.
 */
export async function restorePhysicalCommand(options: PhysicalRestoreCommandOptions): Promise<number> {
  if (!options.into) {
    throw new DrError("CONFIG_INVALID", "unable to restore postgres --physical: --into is required", { hint: "--into DIR (a new or empty folder: the data directory)", exitCode: 2 });
  }
  const target = parseRecoveryTarget(options);
  const into = resolve(options.into);
  await using session = await openRepositorySession({ target: options.target, repo: options.repo });
  const { storage, identities } = session.repository;
  await storage.check();
  const started = performance.now();
  const result = await restorePostgresPhysical({ storage, identities, into, target });
  say(`Restored base backup ${result.backupId} into ${result.dataDir}: ${result.walFiles} WAL files (${formatBytes(result.walBytes)}, ${result.walRange}) in ${result.walDir}, target ${result.target}, in ${formatDuration(performance.now() - started)}`);
  for (const warning of result.warnings) say(`  note: ${warning}`);
  if (!options.verify) {
    say(`Start it with: pg_ctl -D ${result.dataDir} start   (as the postgres user; it recovers to the target and promotes)`);
    return 0;
  }
  // Loaded only here: the server, the database client and the smoke checks are --verify's
  // (a restore without it starts 0.1-0.2 s sooner).
  const [{ startRestoredPostgres }, { runSmokeChecks }, { externalSource, NATIVE_SOURCE_DATABASE }] = await Promise.all([
    import("../../components/postgres/restored-postgres.ts"),
    import("../../drill/smoke-checks.ts"),
    import("../../targets/index.ts"),
  ]);
  // The database the smoke checks look at: the protected one (the workspace's on native).
  const database = externalSource(session.config).postgres?.database ?? (session.config.target === "native" ? NATIVE_SOURCE_DATABASE : "postgres");
  const server = await startRestoredPostgres(result.dataDir, { database });
  let failed: number;
  try {
    const { lsn, lastTransactionAt, timeline, recoveryMs } = server.reached;
    say(`Recovered and promoted in ${formatDuration(recoveryMs)}: LSN ${lsn}, timeline ${timeline}, last replayed transaction ${lastTransactionAt ?? "none"}`);
    const smoke = await runSmokeChecks(server.endpoint, undefined, session.config.smoke.commands);
    for (const check of smoke) say(`  ${check.status === "passed" ? "✔" : "✖"} ${check.name}: ${check.detail}`);
    failed = smoke.filter((c) => c.status !== "passed").length;
  } finally {
    await server.stop();
  }
  return failed ? 1 : 0;
}
