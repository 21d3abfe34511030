import { Command, CommanderError, Option } from "commander";
import { EXIT_USAGE } from "../errors/index.ts";
import { reportError } from "./output.ts";
import { DrError } from "../errors/index.ts";
import type { RestoreCommandOptions } from "./commands/restore-command.ts";

const repoOption = () => new Option("--repo <name>", "the repository to read: primary (default) or replica (DR_REPLICA_S3_*), e.g. while the primary is down").choices(["primary", "replica"]);
const targetOption = () => new Option("--target <kind>", "where the servers come from (overrides DR_TARGET)").choices(["native", "external", "containers"]);

/** Wrap a command so its result or error becomes the process exit code. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (error) {
      process.exitCode = reportError(error);
    }
  };
}

/**
 * A command whose module loads only when it runs: `dr-drill wal push` from archive_command
 * or `--version` does not pay for the S3 SDK, ioredis and the drill (start-up is per call).
 */
function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => Promise<number>>): (...args: A) => Promise<void> {
  return action(async (...args: A) => (await load())(...args));
}

/** The dr-drill command line (thin: every command calls into the domain modules). */
export function buildProgram(): Command {
  const program = new Command("dr-drill")
    .description("Back up PostgreSQL, Redis and media to S3, prove the backups restore, and report measured RPO/RTO.")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();

  program.command("drill")
    .description("rehearsal: seed -> backup -> declared failure -> restore (dumps and point in time) -> smoke checks -> the five failure scenarios (each injects its fault into its own copies, recovers by the runbook, measured) -> reports/DR_STATUS.md; on the external target (or --existing): a drill of the backups that exist, taking none")
    .addOption(targetOption())
    .option("--keep", "keep the scratch database and servers' data for inspection")
    .option("--existing", "drill the backups already in the repository: take no backup, write nothing into the source or the backup prefixes (always so on the external target)")
    .option("--prometheus <file>", "also write the results as a Prometheus textfile (atomically)")
    .option("--scenario <ids>", "run only these failure scenarios, comma-separated (see --list-scenarios), or none for the backup and restore alone; rehearsal only")
    .option("--no-pitr", "skip the point-in-time recovery rehearsal (WAL stream, base backup, recovery); reported as not verified")
    .option("--list-scenarios", "list the failure scenarios (id, title, objective, fault) and exit; starts nothing")
    .action(action(async (opts: { target?: string; keep?: boolean; existing?: boolean; prometheus?: string; scenario?: string; listScenarios?: boolean; pitr?: boolean }) => (await import("./commands/drill-command.ts")).drillCommand(opts)));

  program.command("backup")
    .description("back up one component or all of them")
    .argument("<component>", "postgres, redis, media or all")
    .addOption(targetOption())
    .option("--allow-unencrypted", "store plaintext when no age recipient is configured")
    .option("--physical", "postgres only: a physical base backup (pg_basebackup tar) for point-in-time recovery; its WAL must reach the archive (wal stream or wal push)")
    .option("--prune", "apply retention after every backup succeeded")
    .action(lazy(async () => (await import("./commands/backup-command.ts")).backupCommand));

  program.command("list")
    .description("list backups and their status")
    .argument("[component]", "postgres, redis, media (default: all)")
    .addOption(targetOption())
    .addOption(repoOption())
    .option("--json", "machine-readable output")
    .action(lazy(async () => (await import("./commands/list-command.ts")).listCommand));

  program.command("verify")
    .description("re-download, check SHA-256, decrypt and read backups with their own tools")
    .argument("[component]", "postgres, redis, media (default: all)")
    .addOption(targetOption())
    .addOption(repoOption())
    .option("--latest", "the newest complete backup (default)")
    .option("--backup <id>", "a specific backup")
    .option("--all", "every complete backup")
    .option("--json", "machine-readable output")
    .action(lazy(async () => (await import("./commands/verify-command.ts")).verifyCommand));

  program.command("prune")
    .description("apply retention; never deletes the newest good backup")
    .argument("[component]", "postgres, redis, media (default: all)")
    .addOption(targetOption())
    .addOption(repoOption())
    .option("--dry-run", "list what would be deleted")
    .action(lazy(async () => (await import("./commands/prune-command.ts")).pruneCommand));

  program.command("restore")
    .description("restore a backup into a new database or an empty folder")
    .argument("<component>", "postgres, redis or media")
    .addOption(targetOption())
    .addOption(repoOption())
    .option("--latest", "the newest complete backup (default)")
    .option("--backup <id>", "a specific backup")
    .option("--into <where>", "postgres://USER@HOST:PORT/NEW_DB, or a folder for redis/media")
    .option("--replace", "replace an existing dr-drill scratch database (never one in use or changed since dr-drill created it)")
    .option("--physical", "postgres only: a self-contained data directory from a base backup plus WAL (point-in-time recovery)")
    .option("--to-time <time>", "with --physical: recover to this moment (ISO 8601)")
    .option("--to-lsn <lsn>", "with --physical: recover to this WAL position")
    .option("--verify", "with --physical: start it on a private socket, wait for the end of recovery, report the point reached")
    .action(action(async (which: string, opts: RestoreCommandOptions & { physical?: boolean; toTime?: string; toLsn?: string; verify?: boolean }) => {
      if (!opts.physical) {
        if (opts.toTime || opts.toLsn || opts.verify) throw new DrError("CONFIG_INVALID", "unable to restore: --to-time, --to-lsn and --verify need --physical", { exitCode: 2 });
        return await (await import("./commands/restore-command.ts")).restoreCommand(which, opts);
      }
      if (which !== "postgres") throw new DrError("CONFIG_INVALID", `unable to restore ${which} --physical: only PostgreSQL has physical backups`, { exitCode: 2 });
      return await (await import("./commands/restore-physical-command.ts")).restorePhysicalCommand(opts);
    }));

  const wal = program.command("wal").description("the WAL archive for point-in-time recovery (repository and keys only, no server)");
  wal.command("push")
    .description("archive_command = 'dr-drill wal push %p': store one WAL segment or .history file, encrypted; exit 0 only once stored")
    .argument("<path>", "the file PostgreSQL archives (%p)")
    .addOption(targetOption())
    .action(action(async (path: string, opts: { target?: string }) => {
      const { walPushCommand } = await import("./commands/wal-command.ts");
      await using session = await (await import("./session.ts")).openRepositorySession({ target: opts.target });
      return await walPushCommand(session.repository, path);
    }));
  wal.command("fetch")
    .description("restore_command = 'dr-drill wal fetch %f %p': exit 1 only when the file is not archived, 126 on any other failure")
    .argument("<name>", "the WAL file name (%f)")
    .argument("<destination>", "where PostgreSQL wants it (%p)")
    .addOption(targetOption())
    .action(async (name: string, destination: string, opts: { target?: string }) => {
      // Any failure but "not found" must stop recovery: PostgreSQL reads 1-125 as the end of WAL.
      try {
        const { walFetchCommand } = await import("./commands/wal-command.ts");
        await using session = await (await import("./session.ts")).openRepositorySession({ target: opts.target });
        process.exitCode = await walFetchCommand(session.repository, name, destination);
      } catch (error) {
        reportError(error);
        process.exitCode = 126;
      }
    });
  wal.command("verify")
    .description("continuity of the WAL archive from each base backup to the newest segment; every gap named")
    .addOption(targetOption())
    .option("--json", "machine-readable output")
    .action(action(async (opts: { target?: string; json?: boolean }) => {
      const { walVerifyCommand } = await import("./commands/wal-command.ts");
      await using session = await (await import("./session.ts")).openRepositorySession({ target: opts.target });
      return await walVerifyCommand(session.repository, opts);
    }));
  wal.command("stream")
    .description("hold a replication slot and upload WAL as it is written (pg_receivewal --synchronous); runs until SIGINT/SIGTERM")
    .addOption(targetOption())
    .option("--spool <dir>", "local folder pg_receivewal writes into (kept across restarts)")
    .option("--slot <name>", "physical replication slot (default dr_drill)")
    .action(action(async (opts: { target?: string; spool?: string; slot?: string }) => (await import("./commands/wal-stream-command.ts")).walStreamCliCommand(opts)));

  program.command("status")
    .description("freshness of each component: newest backup, its age against the schedule, the last attempt (exit 1 when stale, missing or failed)")
    .argument("[component]", "postgres, redis, media (default: all)")
    .addOption(targetOption())
    .addOption(repoOption())
    .option("--json", "machine-readable output")
    .option("--prometheus <file>", "write a node_exporter textfile (atomically: temp file + rename)")
    .action(lazy(async () => (await import("./commands/status-command.ts")).statusCommand));

  program.command("seed")
    .description("fill the embedded servers with the DeltaCrown fixtures and print what is there")
    .addOption(targetOption())
    .option("--size <size>", "PostgreSQL fixture size (default 50MB, or DR_FIXTURE_SIZE)")
    .action(lazy(async () => (await import("./commands/seed-command.ts")).seedCommand));

  program.command("config")
    .description("print the effective configuration (secrets masked)")
    .addOption(targetOption())
    .action(lazy(async () => (await import("./commands/config-command.ts")).configCommand));

  return program;
}

/** Run the CLI; usage errors exit 2. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.exitCode = reportError(error);
  }
}
