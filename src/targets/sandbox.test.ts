import { describe, expect, it } from "vitest";
import { isDrError } from "../errors/index.ts";
import { postgresImageForMajor } from "./containers/containers-sandbox.ts";
import { assertServerCanRestore } from "./native/native-sandbox.ts";

describe("sandbox version choice", () => {
  it("native: refuses a dump from a newer major, naming both versions and the fix", () => {
    expect(() => assertServerCanRestore("15.18", 15, "native")).not.toThrow();
    expect(() => assertServerCanRestore("16.2", 15, "native")).not.toThrow();
    expect(() => assertServerCanRestore("15.18", undefined, "native")).not.toThrow();
    let error: unknown;
    try {
      assertServerCanRestore("15.18", 17, "native");
    } catch (e) {
      error = e;
    }
    expect(isDrError(error, "VERSION_MISMATCH")).toBe(true);
    const e = error as { message: string; hint: string };
    expect(e.message).toBe("unable to start a scratch PostgreSQL in sandbox 'native': the backup comes from PostgreSQL 17, the local server is PostgreSQL 15.18 and cannot restore a newer major");
    expect(e.hint).toContain("postgresql-17");
    expect(e.hint).toContain("DR_SANDBOX=containers with DR_POSTGRES_IMAGE=postgres:17-bookworm");
  });

  it("containers: keeps an image that can restore the major, else swaps the major into its tag", () => {
    expect(postgresImageForMajor("postgres:15-bookworm", 15)).toBe("postgres:15-bookworm");
    expect(postgresImageForMajor("postgres:15-bookworm", 14)).toBe("postgres:15-bookworm");
    expect(postgresImageForMajor("postgres:15-bookworm", 16)).toBe("postgres:16-bookworm");
    expect(postgresImageForMajor("dr-drill/postgres:15-offline", 17)).toBe("dr-drill/postgres:17-offline");
    expect(postgresImageForMajor("registry.local:5000/pg:15", 16)).toBe("registry.local:5000/pg:16");
    expect(postgresImageForMajor("postgres:latest", 16)).toBe("postgres:latest");
    expect(postgresImageForMajor("postgres:15-bookworm", undefined)).toBe("postgres:15-bookworm");
  });
});
