import { DrError } from "../../errors/index.ts";
import { findBinary, runCommand } from "../../exec/index.ts";

/** `15.18` from `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`. */
export function parseToolVersion(output: string): string {
  return /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(output)?.[1] ?? "unknown";
}

/** The version of a PostgreSQL client tool (pg_dump, pg_restore). */
export async function readToolVersion(tool: "pg_dump" | "pg_restore"): Promise<{ path: string; version: string }> {
  const path = findBinary(tool);
  const { stdout } = await runCommand(path, ["--version"], { timeoutMs: 10_000 });
  return { path, version: parseToolVersion(stdout) };
}

/** Major version number: `15.18` -> 15. */
export function majorOf(version: string): number {
  return Number.parseInt(version, 10);
}

/**
 * A client tool older than the server cannot read its catalog: refuse up front with the
 * versions that met, instead of a cryptic mid-dump failure.
 */
export function assertToolNotOlder(tool: string, toolVersion: string, serverVersion: string): void {
  if (majorOf(toolVersion) < majorOf(serverVersion)) {
    throw new DrError("VERSION_MISMATCH", `unable to run ${tool} ${toolVersion} against PostgreSQL ${serverVersion}: ${tool} must be at least the server's major version (${majorOf(serverVersion)})`, {
      hint: `install postgresql-client-${majorOf(serverVersion)} (or newer), or use the containers target, which runs ${tool} inside the server's image`,
    });
  }
}
