// The example alerting rules shipped for the status and drill textfiles: valid for
// Prometheus, and each alert fires (or stays quiet) on the series the textfiles carry.
import { execa } from "execa";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findBinary } from "../src/exec/index.ts";

const RULES_DIR = fileURLToPath(new URL("../examples/prometheus/", import.meta.url));

describe("example Prometheus alerting rules", () => {
  it("promtool check rules accepts them", async () => {
    const r = await execa(findBinary("promtool"), ["check", "rules", "dr-drill-alerts.yml"], { cwd: RULES_DIR, reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("SUCCESS: 9 rules found");
  });

  it("promtool test rules: stale, failed attempt, failed drill and RTO over target fire as written", async () => {
    const r = await execa(findBinary("promtool"), ["test", "rules", "dr-drill-alerts.test.yml"], { cwd: RULES_DIR, reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("SUCCESS");
  });
});
