import { randomBytes } from "node:crypto";
import { chown, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectPostgres } from "../../src/clients/index.ts";
import { findBinary, postgresOsUser, runCommand } from "../../src/exec/index.ts";
import { findFreePort, makeTempDir } from "../../src/lifecycle/index.ts";
import { startServerProcess } from "../../src/targets/native/server-process.ts";
import type { PostgresEndpoint } from "../../src/targets/target.ts";

/** A PostgreSQL started for the PITR suite, with the extra settings it needs. */
export interface PitrPostgres extends AsyncDisposable {
  endpoint: PostgresEndpoint;
  dataDir: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * initdb + postgres as the postgres OS user, password (SCRAM) authentication on 127.0.0.1
 * (initdb's pg_hba.conf allows replication connections there), plus the given `-c` settings
 * (archive_mode, archive_command) and environment (the repository for archive_command).
 */
export async function startPitrPostgres(settings: Record<string, string>, env: Record<string, string> = {}): Promise<PitrPostgres> {
  const osUser = postgresOsUser();
  const dir = await makeTempDir("pitr-pg", osUser);
  const dataDir = join(dir, "data");
  const password = randomBytes(12).toString("base64url");
  const pwFile = join(dir, "pwfile");
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (osUser) await chown(pwFile, osUser.uid, osUser.gid);
  await runCommand(findBinary("initdb"), ["-D", dataDir, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwFile}`, "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], { asUser: osUser, timeoutMs: 120_000 });
  await rm(pwFile);
  const port = await findFreePort();
  const endpoint: PostgresEndpoint = { host: "127.0.0.1", port, user: "postgres", password, database: "postgres" };
  const server = await startServerProcess({
    name: "postgres",
    file: findBinary("postgres"),
    args: ["-D", dataDir, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "logging_collector=off", ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])],
    dir,
    asUser: osUser,
    env,
    stopSignal: "SIGINT",
    probe: async () => {
      const client = await connectPostgres(endpoint);
      await client.end();
      return true;
    },
  });
  return { endpoint, dataDir, pid: server.pid, stop: server.stop, [Symbol.asyncDispose]: server.stop };
}
