import { join } from "node:path";
import { DrError } from "../../errors/index.ts";
import { openRepository, workspaceDir } from "../../repository/index.ts";
import { externalSource, NATIVE_SOURCE_DATABASE, startNativePostgres, type StartedPostgres } from "../../targets/index.ts";
import { addSecrets } from "../output.ts";
import { loadCommandConfig } from "../session.ts";
import { walStreamCommand } from "./wal-command.ts";

/**
 * `dr-drill wal stream`: the configured database (DR_DATABASE_URL, its role needs
 * REPLICATION) streamed into the repository until SIGINT/SIGTERM. On the embedded
 * workspace, its own PostgreSQL is started for as long as the stream runs.
 */
export async function walStreamCliCommand(options: { target?: string; spool?: string; slot?: string }): Promise<number> {
  const config = await loadCommandConfig(options.target);
  let workspace: StartedPostgres | undefined;
  let postgres = config.target === "external" ? externalSource(config).postgres : undefined;
  if (config.target === "native") {
    workspace = await startNativePostgres({ database: NATIVE_SOURCE_DATABASE, label: "pg-source", stateDir: join(workspaceDir(config), "postgres") });
    postgres = workspace.endpoint;
  }
  if (!postgres) {
    throw new DrError("CONFIG_MISSING", "unable to stream WAL: no PostgreSQL is configured (DR_DATABASE_URL is not set)", { hint: "set DR_DATABASE_URL to the server to stream from (its role needs REPLICATION)" });
  }
  addSecrets([postgres.password]);
  try {
    await using repository = await openRepository(config);
    addSecrets(repository.identities);
    return await walStreamCommand(repository, postgres, { spoolDir: options.spool ?? join(config.stateDir, "wal-spool"), slot: options.slot });
  } finally {
    await workspace?.stop();
  }
}
