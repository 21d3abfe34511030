import { describe, expect, it } from "vitest";
import { childBaseEnv, runCommand } from "./run-command.ts";

describe("child environment", () => {
  it("keeps PATH, HOME, locale, TZ and TMPDIR; drops everything else, secrets included", () => {
    const env = childBaseEnv({
      PATH: "/usr/bin",
      HOME: "/root",
      LANG: "C.UTF-8",
      LC_ALL: "C",
      TZ: "UTC",
      TMPDIR: "/tmp",
      DR_REDIS_URL: "redis://:secret@h:6379",
      AWS_SECRET_ACCESS_KEY: "secret",
      PGPASSWORD: "secret",
      NODE_OPTIONS: "--require x",
    });
    expect(env).toEqual({ PATH: "/usr/bin", HOME: "/root", LANG: "C.UTF-8", LC_ALL: "C", TZ: "UTC", TMPDIR: "/tmp" });
  });

  it("a command sees the allow-listed basics plus what its caller passes, and an undefined value removes one", async () => {
    process.env.RUN_COMMAND_TEST_SECRET = "must-not-leak";
    try {
      const { stdout } = await runCommand("env", [], { env: { OWN: "mine", HOME: undefined }, timeoutMs: 10_000 });
      const names = stdout.split("\n").map((line) => line.split("=")[0]);
      expect(names).toContain("PATH");
      expect(names).toContain("OWN");
      expect(names).not.toContain("HOME");
      expect(stdout).not.toContain("must-not-leak");
    } finally {
      delete process.env.RUN_COMMAND_TEST_SECRET;
    }
  });
});
