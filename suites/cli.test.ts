// The CLI contract scripts and cron jobs rely on: exit codes, messages naming what is
// wrong, the drill's non-zero exit on a breached target, secrets kept out of reports.
import { execa } from "execa";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/dr-drill.js", import.meta.url));
let work: string;

/** Run the CLI with extra environment, never throwing. */
async function cli(args: string[], env: Record<string, string> = {}) {
  return await execa(process.execPath, [BIN, ...args], { env: { DR_TARGET: "native", DR_STATE_DIR: join(work, "state"), DR_REPORT_DIR: join(work, "reports"), ...env }, reject: false, cwd: work });
}

describe("dr-drill CLI", () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "dr-cli-test-"));
    // The workspace's PostgreSQL runs as the postgres OS user when we are root: let it in.
    await chmod(work, 0o755);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("exits 2 and names the problem on a usage error", async () => {
    const r = await cli(["backup", "mysql"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unable to parse component 'mysql': expected postgres, redis, media or all");
    const missing = await cli(["restore"]);
    expect(missing.exitCode).toBe(2);
  });

  it("exits 2 and names the variable on bad configuration", async () => {
    const r = await cli(["config"], { DR_RPO_TARGET: "soon" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("'DR_RPO_TARGET': got 'soon'");
    expect(r.stderr).toContain("HINT:");
  });

  it("exits 2 naming the variable when an unconfigured component is named, before opening anything", async () => {
    const r = await cli(["backup", "redis"], {
      DR_TARGET: "external",
      DR_DATABASE_URL: "postgres://app:hunter22@127.0.0.1:1/deltacrown",
      DR_S3_BUCKET: "backups",
      DR_S3_ENDPOINT: "http://127.0.0.1:1",
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unable to back up redis: it is not configured (DR_REDIS_URL is not set)");
    expect(r.stderr).toContain("HINT: set DR_REDIS_URL");
    expect(r.stderr).not.toContain("hunter22");
  });

  it("never echoes an age secret key given as a recipient, and checks a recipient's checksum", async () => {
    const secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    const r = await cli(["config"], { DR_AGE_RECIPIENTS: secret });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("'DR_AGE_RECIPIENTS': it holds an age SECRET key");
    expect(r.stderr).not.toContain(secret.slice(16));
    // A valid recipient with its last character changed: right shape, wrong checksum.
    const good = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    const bad = `${good.slice(0, -1)}${good.endsWith("p") ? "q" : "p"}`;
    const typo = await cli(["config"], { DR_AGE_RECIPIENTS: bad });
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain("fails its bech32 checksum");
    expect((await cli(["config"], { DR_AGE_RECIPIENTS: good })).exitCode).toBe(0);
  });

  it("prints the configuration with secrets masked", async () => {
    const r = await cli(["config"], { DR_TARGET: "external", DR_DATABASE_URL: "postgres://app:hunter22@db:5432/x", DR_REDIS_URL: "redis://:pw123456@cache:6379", DR_MEDIA_DIR: "/srv", DR_S3_BUCKET: "b" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("postgres://app:***@db:5432/x");
    expect(r.stdout).not.toContain("hunter22");
    expect(r.stdout).not.toContain("pw123456");
  });

  it("backup all, list and verify on the embedded workspace; restore refuses a non-empty folder", async () => {
    const noBackups = await cli(["verify", "postgres"]);
    expect(noBackups.exitCode).toBe(1);
    expect(noBackups.stderr).toContain("there are no complete backups");

    const backup = await cli(["backup", "all"]);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/postgres-\d{8}T\d{9}Z: .* stored in .*, encrypted \(age\)/);
    const list = await cli(["list", "--json"]);
    const entries = JSON.parse(list.stdout) as { component: string; status: string; encrypted: boolean }[];
    expect(entries.map((e) => [e.component, e.status, e.encrypted])).toEqual([
      ["postgres", "complete", true], ["redis", "complete", true], ["media", "complete", true],
    ]);
    const verify = await cli(["verify"]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain("pg_restore --list");

    const pg = await cli(["restore", "postgres", "--latest", "--into", "postgres:///restored_copy"]);
    expect(pg.exitCode, pg.stderr).toBe(0);
    expect(pg.stdout).toMatch(/Restored into postgres:\/\/postgres@127\.0\.0\.1:\d+\/restored_copy: .* dump -> .* database/);
    // The local disk the restore used is the archive pg_restore read: with zstd outside pg_dump (the default), larger than the decrypted .zst.
    const disk = /: ([\d.]+) (kB|MB|GB) dump -> .*; local disk used: ([\d.]+) (kB|MB|GB) in (\S+) \(the decrypted archive pg_restore read, removed\)/.exec(pg.stdout);
    expect(disk, pg.stdout).not.toBeNull();
    const bytes = (n: string, unit: string) => Number(n) * { kB: 1e3, MB: 1e6, GB: 1e9 }[unit]!;
    expect(bytes(disk![3]!, disk![4]!)).toBeGreaterThan(bytes(disk![1]!, disk![2]!));
    expect(disk![5]).toBe(tmpdir());
    const source = await cli(["restore", "postgres", "--latest", "--into", "postgres:///deltacrown"]);
    expect(source.exitCode).toBe(2);
    expect(source.stderr).toContain("it is the source database");
    const existing = await cli(["restore", "postgres", "--latest", "--into", "postgres:///postgres"]);
    expect(existing.exitCode).toBe(2);
    expect(existing.stderr).toContain("already exists and is not a dr-drill scratch database");
    const withPassword = await cli(["restore", "postgres", "--latest", "--into", "postgres://u:hunter22@127.0.0.1/x"]);
    expect(withPassword.exitCode).toBe(2);
    expect(withPassword.stderr).not.toContain("hunter22");

    const into = join(work, "media-restore");
    const media = await cli(["restore", "media", "--latest", "--into", into]);
    expect(media.exitCode, media.stderr).toBe(0);
    expect(media.stdout).toMatch(/Restored \d+ files/);
    const again = await cli(["restore", "media", "--latest", "--into", into]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain("the folder is not empty");
  });

  it("point-in-time recovery from the command line: base backup, wal verify, restore --physical --verify", async () => {
    const backup = await cli(["backup", "postgres", "--physical"]);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/postgres-\d{8}T\d{9}Z: .* encrypted \(age\)/);
    const wal = await cli(["wal", "verify"]);
    expect(wal.exitCode, wal.stdout + wal.stderr).toBe(0);
    expect(wal.stdout).toMatch(/✔ base backup postgres-\S+: WAL \S+ present/);
    // A logical restore never takes a base backup: it restores the newest dump.
    const verify = await cli(["verify", "postgres"]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    const into = join(work, "pgdata");
    const restore = await cli(["restore", "postgres", "--physical", "--latest", "--into", into, "--verify"]);
    expect(restore.exitCode, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/Recovered and promoted in .*: LSN [0-9A-F]+\/[0-9A-F]+, timeline 2/);
    expect(restore.stdout).toMatch(/✔ Foreign keys: \d+ foreign keys hold/);
    const badTarget = await cli(["restore", "postgres", "--physical", "--to-time", "yesterday", "--into", join(work, "pgdata-x")]);
    expect(badTarget.exitCode).toBe(2);
    expect(badTarget.stderr).toContain("unable to parse --to-time 'yesterday'");
    const fetchMissing = await cli(["wal", "fetch", "0000000100000000000000FF", join(work, "seg")]);
    expect(fetchMissing.exitCode).toBe(1);
  });

  it("the drill exits 1 with ❌ on RTO when the RTO target is 1ms, and keeps secrets out of the report", async () => {
    const r = await cli(["drill", "--scenario", "database-corruption"], { DR_RTO_TARGET: "1ms" });
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(1);
    const report = await readFile(join(work, "reports", "DR_STATUS.md"), "utf8");
    // Two paths (the dump swap and point-in-time recovery), each with its measured RPO and RTO.
    expect(report).toMatch(/\| \*\*Database corruption\*\* \| <1h \| <1ms \| Restore into .*: RPO: .*, RTO: .*; Point-in-time recovery .*: RPO: .*, RTO: .* \| ❌ BREACHED \|/);
    expect(report).toContain("`test_rto_within_target_15_minutes` | ❌");
    expect(report).toContain("**DR Status**: ❌ FAILING");
    const json = await readFile(join(work, "reports", "dr-status.json"), "utf8");
    for (const text of [report, json]) {
      expect(text).not.toMatch(/AGE-SECRET-KEY-/);
      expect(text).not.toMatch(/"(password|secretAccessKey)":/);
      expect(text).not.toMatch(/postgres:\/\/[^@\s]*:[^@\s]*@/);
    }
  });
});
