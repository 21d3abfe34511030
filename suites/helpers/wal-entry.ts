// The WAL commands as PostgreSQL runs them (archive_command, restore_command) and as a
// separate streamer process, until `dr-drill wal ...` is registered in the CLI: the same
// command functions, with the repository taken from the environment (PITR_S3: the S3
// endpoint as JSON; PITR_RECIPIENT; PITR_IDENTITY_FILE) instead of dr-drill's configuration.
import { readIdentityFile } from "../../src/crypto/age.ts";
import { reportError } from "../../src/cli/output.ts";
import { walFetchCommand, walPushCommand, walStreamCommand, type WalRepository } from "../../src/cli/commands/wal-command.ts";
import { WAL_FETCH_FAILED } from "../../src/components/wal/wal-fetch.ts";
import { S3Storage } from "../../src/storage/s3/s3-storage.ts";

const [command, ...args] = process.argv.slice(2);
let code: number;
try {
  const storage = new S3Storage(JSON.parse(process.env.PITR_S3 ?? "{}"));
  const identities = process.env.PITR_IDENTITY_FILE ? await readIdentityFile(process.env.PITR_IDENTITY_FILE) : [];
  const repository: WalRepository = { storage, recipients: process.env.PITR_RECIPIENT ? [process.env.PITR_RECIPIENT] : [], identities };
  if (command === "push") code = await walPushCommand(repository, args[0]!);
  else if (command === "fetch") code = await walFetchCommand(repository, args[0]!, args[1]!);
  else if (command === "stream") code = await walStreamCommand(repository, JSON.parse(process.env.PITR_PG ?? "{}"), { spoolDir: args[0]!, intervalMs: Number(process.env.PITR_INTERVAL_MS ?? 1000) });
  else throw new Error(`unknown command '${command}'`);
  storage.client.destroy();
} catch (error) {
  code = reportError(error);
  if (command === "fetch") code = WAL_FETCH_FAILED;
}
process.exit(code);
