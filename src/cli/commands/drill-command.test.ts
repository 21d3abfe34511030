import { execa } from "execa";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCENARIO_IDS } from "../../config/index.ts";

const BIN = fileURLToPath(new URL("../../../bin/dr-drill.js", import.meta.url));
let state: string;

/** The CLI in a fresh workspace folder: whatever a command starts would leave files there. */
async function cli(args: string[], env: Record<string, string> = {}) {
  return await execa(process.execPath, [BIN, ...args], { env: { DR_STATE_DIR: state, DR_TARGET: "native", ...env }, reject: false, timeout: 20_000 });
}

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), "drill-cli-"));
});

afterAll(async () => {
  await rm(state, { recursive: true, force: true });
});

describe("dr-drill drill: scenario selection (nothing started)", () => {
  it("--list-scenarios prints every scenario id with its configured objective, exits 0, starts no server", async () => {
    const r = await cli(["drill", "--list-scenarios"], { DR_RTO_TARGET: "7m" });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    for (const id of SCENARIO_IDS) expect(lines.some((l) => l.startsWith(`${id} `))).toBe(true);
    // The database's objective comes from DR_RTO_TARGET; a server failure gets twice it.
    expect(lines.find((l) => l.startsWith("database-corruption "))).toMatch(/ <1h +<7m /);
    expect(lines.find((l) => l.startsWith("server-failure "))).toMatch(/ <1h +<14m /);
    expect(lines.find((l) => l.startsWith("region-outage "))).toMatch(/ <1d +<2h /);
    expect(await readdir(state)).toEqual([]);
  });

  it("--scenario with an unknown id: exit 2, the valid ids listed, nothing started", async () => {
    const r = await cli(["drill", "--scenario", "redis-failure,nonsense"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unable to select scenario 'nonsense': no such scenario");
    expect(r.stderr).toContain(`HINT: valid ids: ${SCENARIO_IDS.join(", ")}`);
    expect(await readdir(state)).toEqual([]);
  });

  it("--scenario none mixed with ids: exit 2, says why, nothing started", async () => {
    const r = await cli(["drill", "--scenario", "none,redis-failure", "--no-pitr"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unable to select scenario 'none,redis-failure': 'none' runs no scenario, so it cannot be combined with scenario ids");
    expect(r.stderr).toContain("HINT: pass --scenario none alone");
    expect(await readdir(state)).toEqual([]);
  });

  it("drill --help documents --scenario none and --no-pitr", async () => {
    const r = await cli(["drill", "--help"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const help = r.stdout.replace(/\s+/g, " ");
    expect(help).toContain("or none for the backup and restore alone");
    expect(help).toContain("--no-pitr skip the point-in-time recovery rehearsal");
  });

  it("--scenario with --existing: refused (a scenario breaks copies of a rehearsal source), exit 2", async () => {
    const r = await cli(["drill", "--existing", "--scenario", "media-loss"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unable to run scenario 'media-loss' with --existing: a scenario injects its fault into copies of a rehearsal source");
    expect(r.stderr).toContain("HINT: run the scenarios on the native or containers target");
    expect(await readdir(state)).toEqual([]);
  });

  it("--scenario on the external target: refused, exit 2", async () => {
    const r = await cli(["drill", "--scenario", "region-outage"], {
      DR_TARGET: "external",
      DR_S3_BUCKET: "b",
      DR_S3_ENDPOINT: "http://127.0.0.1:9",
      DR_DATABASE_URL: "postgres://u@127.0.0.1:9/db",
      DR_ALLOW_UNENCRYPTED: "true",
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unable to run scenario 'region-outage' on the external target");
  });
});
