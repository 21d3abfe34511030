// Children see only what they need, and a signal at any moment leaves nothing behind: no
// plaintext dump, no key, no half-restored database, no server, exit 128 + signal.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupPostgres } from "../src/components/index.ts";
import { buildConfig } from "../src/config/index.ts";
import { startCommand } from "../src/exec/index.ts";
import { createStorage } from "../src/storage/index.ts";
import { startNativeTarget } from "../src/targets/index.ts";
import { seedPostgres } from "../fixtures/index.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const MARKERS = {
  DR_REDIS_URL: "redis://:envmarker-redis-password@127.0.0.1:1",
  AWS_SECRET_ACCESS_KEY: "envmarker-aws-secret",
  DR_DATABASE_URL: "postgres://app:envmarker-pg-password@127.0.0.1:1/app",
};

/** The environment of a running process, as other processes of its user can read it. */
function environOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
}

/** Pids of running processes whose parent is `ppid` and whose name is `comm`. */
function childrenNamed(ppid: number, comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === ppid && name === comm) found.push(Number(entry));
    } catch {
      // The process went away while we looked.
    }
  }
  return found;
}

/** Processes whose command line mentions `text` (our servers name their temporary folders in argv). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** A folder the postgres OS user can traverse (servers run as it when we are root). */
async function openTempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `signal-faults-${label}-`));
  await chmod(dir, 0o755);
  return dir;
}

/** Poll until `probe` is true; false after `ms`. */
async function waitFor(probe: () => boolean, ms: number, intervalMs = 10): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (probe()) return true;
    await sleep(intervalMs);
  }
  return probe();
}

/** A shell reports 128 + the signal either way: an exit code from our handler, or death by the signal itself (nothing registered yet). */
function shellStatus(result: { exitCode?: number; signal?: string }): number | undefined {
  if (result.exitCode !== undefined) return result.exitCode;
  return result.signal === "SIGINT" ? 130 : result.signal === "SIGTERM" ? 143 : undefined;
}

describe("child processes get only what they need (item 12)", () => {
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [name, value] of Object.entries(MARKERS)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("servers (postgres as its own OS user, redis, S3), pg_dump and any command: no secret of ours in /proc/PID/environ", async () => {
    const target = await startNativeTarget();
    try {
      const seen: Record<string, string[]> = {};
      for (const [name, pid] of [["postgres", target.pids()[0]!], ["s3", target.pids()[2]!]] as const) {
        seen[name] = environOf(pid);
      }
      // redis-server writes its process title over the environ area: /proc shows nothing to
      // check there (not verified for redis itself; it starts through the same
      // startServerProcess -> startCommand path as the S3 server checked here).
      const redisEnviron = environOf(target.pids()[1]!);
      expect(redisEnviron.filter((v) => /envmarker/.test(v))).toEqual([]);
      const scratch = await target.startScratchPostgres();
      seen["scratch postgres"] = environOf(scratch.pid!);

      await seedPostgres(target.postgres, { targetBytes: 8e6, seed: 7 });
      const identity = await generateIdentity();
      const storage = createStorage(target.s3);
      await backupPostgres({
        storage,
        config: buildConfig(undefined, {}),
        postgres: target.postgres,
        redis: target.redis,
        mediaDir: target.mediaDir,
        recipients: [await identityToRecipient(identity)],
        onProgress: () => {
          if (seen["pg_dump"]) return;
          const [pid] = childrenNamed(process.pid, "pg_dump");
          if (pid) seen["pg_dump"] = environOf(pid);
        },
      });
      storage.client.destroy();

      const sleeper = startCommand("sleep", ["30"], { env: { OWN_VARIABLE: "its own" } });
      await waitFor(() => existsSync(`/proc/${sleeper.pid}/environ`), 2_000);
      seen["sleep"] = environOf(sleeper.pid!);
      sleeper.kill("SIGKILL");
      await sleeper.catch(() => undefined);

      expect(Object.keys(seen).sort()).toEqual(["pg_dump", "postgres", "s3", "scratch postgres", "sleep"]);
      for (const [name, environ] of Object.entries(seen)) {
        // Readable and not empty: an unreadable environ would make the next check pass by accident.
        expect(environ.some((v) => v.startsWith("PATH=")), `${name}: ${environ.join(" ")}`).toBe(true);
        const leaked = environ.filter((v) => /envmarker|^DR_|^AWS_/.test(v));
        expect(leaked, name).toEqual([]);
      }
      expect(seen["pg_dump"]).toContain(`PGPASSWORD=${target.postgres.password}`);
      expect(seen["pg_dump"]).toContain(`PGHOST=${target.postgres.host}`);
      expect(seen["sleep"]).toContain("OWN_VARIABLE=its own");
      expect(seen["postgres"]!.some((v) => v.startsWith("REDISCLI_AUTH") || v.startsWith("PGPASSWORD"))).toBe(false);
      await scratch.stop();
    } finally {
      await target.stop();
    }
  });
});

describe("signals during a restore and a drill (items 13, 14)", () => {
  let state: string;
  let temp: string;
  const env = () => ({ ...process.env, DR_STATE_DIR: state, DR_TMPDIR: temp, DR_FIXTURE_SIZE: "30MB", DR_REPORT_DIR: join(state, "reports") });
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    execa(process.execPath, ["bin/dr-drill.js", ...args], { cwd: REPO, env: { ...env(), ...extra }, reject: false, detached: true });

  beforeAll(async () => {
    state = await openTempDir("state");
    temp = await openTempDir("tmp");
    const backup = await cli(["backup", "postgres"]);
    expect(backup.exitCode, backup.stderr).toBe(0);
  }, 180_000);
  afterAll(async () => {
    if (state) await rm(state, { recursive: true, force: true });
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  /** Where this run's pg-restore dump lands (DR_TMPDIR is this suite's own folder). */
  const dumpFiles = () => readdirSync(temp).filter((d) => d.startsWith("dr-drill-pg-restore-")).map((d) => join(temp, d, "restore.dump")).filter((f) => existsSync(f));

  for (const moment of ["the decrypted dump appears", "pg_restore runs"] as const) {
    it(`SIGTERM during 'restore postgres' as ${moment}: exit 143, no plaintext dump, no half-restored database, no server`, async () => {
      const database = moment === "pg_restore runs" ? "restored_during_pg_restore" : "restored_during_download";
      const child = cli(["restore", "postgres", "--latest", "--into", `postgres:///${database}`]);
      const reached = await waitFor(
        () => (moment === "pg_restore runs" ? childrenNamed(child.pid!, "pg_restore").length > 0 : dumpFiles().length > 0),
        60_000,
        5,
      );
      expect(reached, `never saw: ${moment}`).toBe(true);
      child.kill("SIGTERM");
      const result = await child;
      expect(result.exitCode, result.stderr).toBe(143);
      expect(result.stderr).toContain("SIGTERM received");
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(readdirSync(temp)).toEqual([]);
      expect(processesMentioning(state)).toEqual([]);
      // The half-restored database was dropped: the same restore again is not refused as "already exists".
      const retry = await cli(["restore", "postgres", "--latest", "--into", `postgres:///${database}`]);
      expect(retry.exitCode, retry.stderr).toBe(0);
      expect(retry.stdout).toContain(`Restored into postgres://postgres@127.0.0.1:`);
      expect(readdirSync(temp)).toEqual([]);
    }, 180_000);
  }

  // Moments inside a 30 MB drill (about 29 s on an idle 2-core machine): seeding, backups, recovery.
  for (const seconds of [2, 7, 14, 20]) {
    it(`Ctrl-C (SIGINT to the process group) ${seconds} s into the drill: exit 130, no stack trace, no temp folder, no server`, async () => {
      const drillTemp = await openTempDir(`drill-${seconds}`);
      try {
        const child = execa(process.execPath, ["bin/dr-drill.js", "drill"], {
          cwd: REPO,
          env: { ...env(), DR_TMPDIR: drillTemp },
          reject: false,
          detached: true,
        });
        let ended = false;
        void child.then(() => (ended = true));
        await sleep(seconds * 1000);
        expect(ended, "the drill ended before the signal").toBe(false);
        process.kill(-child.pid!, "SIGINT");
        const result = await child;
        expect(shellStatus(result), result.stderr).toBe(130);
        expect(result.stderr).not.toMatch(/^\s+at /m);
        expect(result.stderr).not.toContain("node:internal");
        expect(readdirSync(drillTemp), result.stderr).toEqual([]);
        // Servers may take a moment to be reaped after their parent exits.
        await waitFor(() => processesMentioning(drillTemp).length === 0, 5_000, 100);
        expect(processesMentioning(drillTemp)).toEqual([]);
      } finally {
        await rm(drillTemp, { recursive: true, force: true, maxRetries: 5 }).catch(() => undefined);
      }
    }, 180_000);
  }
});
