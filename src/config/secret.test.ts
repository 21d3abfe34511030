import { describe, expect, it } from "vitest";
import { redactDeep, redactText, redactUrl } from "./secret.ts";

describe("redaction", () => {
  it("masks URL passwords", () => {
    expect(redactUrl("postgres://app:s3cret@db:5432/x")).toBe("postgres://app:***@db:5432/x");
    expect(redactUrl("redis://:pw@cache:6379")).toBe("redis://:***@cache:6379");
  });

  it("masks secrets deep in a config, keeping file paths", () => {
    const out = redactDeep({ external: { databaseUrl: "postgres://u:pw@h/db" }, password: "x", encryption: { identityFile: "/k.txt" } });
    expect(out).toEqual({ external: { databaseUrl: "postgres://u:***@h/db" }, password: "***", encryption: { identityFile: "/k.txt" } });
  });

  it("masks known secret values in free text", () => {
    expect(redactText("auth failed for hunter22", ["hunter22"])).toBe("auth failed for ***");
  });
});
