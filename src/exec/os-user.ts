import { readFileSync } from "node:fs";
import { DrError } from "../errors/index.ts";

/** An OS account to run a server as. */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** True when this process runs as root (PostgreSQL then needs another account). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Look an account up in /etc/passwd (node has no getpwnam). */
export function lookupUser(name: string, passwd = "/etc/passwd"): OsUser {
  const line = readFileSync(passwd, "utf8")
    .split("\n")
    .find((entry) => entry.split(":")[0] === name);
  if (!line) {
    throw new DrError("BINARY_MISSING", `unable to find OS user '${name}': not in ${passwd}`, {
      hint: `PostgreSQL refuses to run as root; install the postgresql package (it creates '${name}') or run 'useradd --system ${name}'`,
    });
  }
  const [, , uid, gid, , home] = line.split(":");
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? "/" };
}

/** The account PostgreSQL runs as: ourselves, or `postgres` when we are root (it refuses root). */
export function postgresOsUser(): OsUser | undefined {
  return isRoot() ? lookupUser("postgres") : undefined;
}
