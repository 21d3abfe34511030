import { fileURLToPath } from "node:url";
import { describeCommand, runCommand } from "../src/exec/index.ts";
import type { BackupChildRequest, BackupChildResult } from "./backup-child-protocol.ts";

const CHILD_SCRIPT = fileURLToPath(new URL("./run-backup-child.ts", import.meta.url));
const CHILD_TIMEOUT_MS = 30 * 60_000;

/** One measured backup in its own process. */
export interface RssMeasurement extends BackupChildResult {
  /** Database backed up. */
  database: string;
  /** Spawn to exit of the child, ms (module loading included). */
  wallMs: number;
}

/** The child's command line (endpoints and secrets go on stdin, not here). */
export function describeBackupChild(): string {
  return describeCommand(process.execPath, [CHILD_SCRIPT]);
}

/**
 * Run one PostgreSQL backup in a fresh Node process and return its peak RSS: the bench's own
 * heap (fixtures, other tasks) never counts, and each size gets a process of its own.
 */
export async function measureBackupRss(request: BackupChildRequest): Promise<RssMeasurement> {
  const started = performance.now();
  const { stdout } = await runCommand(process.execPath, [CHILD_SCRIPT], {
    input: JSON.stringify(request),
    timeoutMs: CHILD_TIMEOUT_MS,
  });
  const wallMs = performance.now() - started;
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return { database: request.postgres.database, ...(JSON.parse(line) as BackupChildResult), wallMs };
}
