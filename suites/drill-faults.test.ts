// Drill faults: no backup at all, a scratch server that cannot start.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDrillOn, setUpDrill, type DrillSetup } from "../src/drill/rehearsal-setup.ts";
import { DrError, isDrError } from "../src/errors/index.ts";
import { makeTempDir } from "../src/lifecycle/index.ts";
import { buildReport, renderMarkdown } from "../src/report/index.ts";
import { S3Storage, type PutOptions } from "../src/storage/index.ts";
import { startServerProcess } from "../src/targets/native/server-process.ts";
import { isProcessAlive } from "./helpers/process-alive.ts";

let setup: DrillSetup;

/** A bucket that refuses writes (a wrong policy, a full quota): every backup fails. */
class ReadOnlyStorage extends S3Storage {
  override async put(key: string, _body: unknown, _options?: PutOptions): Promise<{ size: number }> {
    throw new DrError("STORAGE_FAILED", `unable to store object '${key}': AccessDenied (the bucket refuses writes)`);
  }
}

describe("drill faults", () => {
  beforeAll(async () => {
    setup = await setUpDrill();
  }, 120_000);
  afterAll(async () => {
    await setup?.stop();
  });

  it("no backup at all: the drill fails clearly and the report says so", async () => {
    const storage = new ReadOnlyStorage(setup.target.s3);
    const drill = await runDrillOn(setup, { storage, writesAfterBackupMs: 100, scenarios: [] });
    storage.client.destroy();
    expect(drill.backups).toEqual([]);
    // Two rounds of three dumps, and the physical base backup beside them.
    expect(drill.backupErrors).toHaveLength(7);
    expect(drill.backupErrors[0]).toContain("AccessDenied");
    expect(drill.recoveries.postgres.ok).toBe(false);
    expect(drill.recoveries.postgres.error).toBe("there are no complete PostgreSQL backups");
    expect(drill.recoveries.redis.error).toBe("there are no complete Redis backups");
    const report = buildReport("drill", drill, [], "test", []);
    expect(report.overall.mark).toBe("❌");
    const markdown = renderMarkdown(report);
    expect(markdown).toContain("recovery failed: there are no complete PostgreSQL backups");
    expect(markdown).toContain("**Backup failed**: postgres (round 1): unable to store object");
  }, 120_000);

  it("a scratch server that cannot start: clear error with its log, nothing left running", async () => {
    const dir = await makeTempDir("broken-server");
    let error: unknown;
    try {
      await startServerProcess({
        name: "postgres",
        file: "/bin/sh",
        args: ["-c", "echo 'FATAL: could not create lock file' >&2; sleep 0.2; exit 1"],
        dir,
        probe: async () => false,
        readyTimeoutMs: 10_000,
      });
    } catch (e) {
      error = e;
    }
    expect(isDrError(error, "TARGET_START_FAILED")).toBe(true);
    expect((error as DrError).message).toContain("unable to start postgres server: exited with code 1");
    expect((error as DrError).message).toContain("FATAL: could not create lock file");
    expect(existsSync(dir)).toBe(false);
  });

  it("a server that never answers is killed at the timeout", async () => {
    const dir = await makeTempDir("silent-server");
    let pid = 0;
    const started = performance.now();
    await expect(startServerProcess({
      name: "redis",
      file: "/bin/sh",
      args: ["-c", `echo $$ > ${dir}/pid; exec sleep 60`],
      dir,
      probe: async () => {
        pid ||= Number(await readFile(`${dir}/pid`, "utf8").catch(() => "0"));
        return false;
      },
      readyTimeoutMs: 1_000,
    })).rejects.toThrow(/unable to start redis server: timed out after 1000 ms/);
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(pid).toBeGreaterThan(0);
    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
