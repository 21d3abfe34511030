import { describe, expect, it } from "vitest";
import { pgRestoreEnv } from "./postgres-restore.ts";

const into = { host: "127.0.0.1", port: 5432, user: "restorer", password: "s3cret", database: "scratch" };

describe("pgRestoreEnv", () => {
  it("turns PostgreSQL's parallel index builds off in pg_restore's sessions when it runs more than one job", () => {
    const env = pgRestoreEnv(into, 2);
    expect(env.PGOPTIONS).toBe("-c max_parallel_maintenance_workers=0");
    expect(env).toMatchObject({ PGHOST: "127.0.0.1", PGPORT: "5432", PGUSER: "restorer", PGDATABASE: "scratch", PGPASSWORD: "s3cret" });
  });

  it("leaves a single job's sessions as the server configures them", () => {
    expect(pgRestoreEnv(into, 1).PGOPTIONS).toBeUndefined();
  });
});
