import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { postmasterStatus } from "./restored-postgres.ts";

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** postmaster.pid as PostgreSQL 15 writes it (pid, data dir, start time, port, socket dir, listen address, shmem key, status padded to 8). */
function pidFile(status: string | undefined): string {
  const lines = ["30431", "/var/lib/postgresql/15/main", "1796394515", "45833", "/tmp/sockets", "127.0.0.1", "  2312018   3211264"];
  return `${[...lines, ...(status === undefined ? [] : [status.padEnd(8)])].join("\n")}\n`;
}

async function dataDirWith(content: string | undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pm-status-"));
  made.push(dir);
  if (content !== undefined) await writeFile(join(dir, "postmaster.pid"), content);
  return dir;
}

describe("postmasterStatus", () => {
  it("reads the status line, padding trimmed", async () => {
    expect(await postmasterStatus(await dataDirWith(pidFile("standby")))).toBe("standby");
    expect(await postmasterStatus(await dataDirWith(pidFile("ready")))).toBe("ready");
    expect(await postmasterStatus(await dataDirWith(pidFile("starting")))).toBe("starting");
  });

  it("is undefined with no file, or before the status line is written", async () => {
    expect(await postmasterStatus(await dataDirWith(undefined))).toBeUndefined();
    expect(await postmasterStatus(await dataDirWith(pidFile(undefined)))).toBeUndefined();
    expect(await postmasterStatus(await dataDirWith(""))).toBeUndefined();
  });
});
