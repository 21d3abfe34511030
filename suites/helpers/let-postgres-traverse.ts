import { chmod, stat } from "node:fs/promises";
import { dirname, parse } from "node:path";
import { postgresOsUser } from "../../src/exec/index.ts";

/**
 * Let the postgres OS user reach a file of this checkout (o+x on each folder above it that
 * lacks it), for a server-side command such as archive_command that runs our code as that
 * user. A checkout in a 0700 folder (mktemp -d) is otherwise closed to it. Returns the
 * undo; a no-op when we are not root (the server then runs as ourselves).
 */
export async function letPostgresTraverse(file: string): Promise<() => Promise<void>> {
  if (!postgresOsUser()) return async () => undefined;
  const changed: { dir: string; mode: number }[] = [];
  let dir = dirname(file);
  const root = parse(dir).root;
  while (dir !== root) {
    const mode = (await stat(dir)).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      await chmod(dir, mode | 0o001);
      changed.push({ dir, mode });
    }
    dir = dirname(dir);
  }
  return async () => {
    for (const { dir: d, mode } of changed) await chmod(d, mode).catch(() => undefined);
  };
}
