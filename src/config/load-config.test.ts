import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isDrError } from "../errors/index.ts";
import { buildConfig, configuredComponents, loadConfig } from "./load-config.ts";

const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

function errorOf(fn: () => unknown): { code: string; message: string; exitCode: number; hint?: string } {
  try {
    fn();
  } catch (error) {
    if (isDrError(error)) return { code: error.code, message: error.message, exitCode: error.exitCode, hint: error.hint };
    throw error;
  }
  throw new Error("expected a DrError");
}

describe("buildConfig", () => {
  it("defaults to the native target with the reference's schedule and 1h/15m objectives", () => {
    const config = buildConfig(undefined, {});
    expect(config.target).toBe("native");
    expect(config.objectives).toMatchObject({ rpoMs: 3_600_000, rtoMs: 900_000 });
    expect(config.objectives.scenarios["region-outage"]).toEqual({ rpoMs: 24 * 3_600_000, rtoMs: 2 * 3_600_000 });
    expect(config.objectives.scenarios["server-failure"].rtoMs).toBe(1_800_000);
    expect(config.schedule.postgres).toMatchObject({ intervalMs: 3_600_000, retentionMs: 7 * 86_400_000 });
    expect(config.schedule.redis).toMatchObject({ intervalMs: 900_000, retentionMs: 86_400_000 });
    expect(config.schedule.media).toMatchObject({ intervalMs: 86_400_000, retentionMs: 30 * 86_400_000 });
    expect(config.media.excludes).toEqual(["*.pyc", "__pycache__/", ".DS_Store"]);
    expect(config.encryption.recipients).toEqual([]);
  });

  it("lets the environment win over the file", () => {
    const config = buildConfig({ objectives: { rto: "30m" } }, { DR_RTO_TARGET: "1ms" });
    expect(config.objectives.rtoMs).toBe(1);
  });

  it("names the variable and exits 2 on a malformed duration", () => {
    const err = errorOf(() => buildConfig(undefined, { DR_RPO_TARGET: "soon" }));
    expect(err).toMatchObject({ code: "CONFIG_INVALID", exitCode: 2 });
    expect(err.message).toBe("unable to load configuration 'DR_RPO_TARGET': got 'soon', expected a duration such as 1h, 15m, 30s or 1ms");
  });

  it("names the config key when a file value has the wrong type", () => {
    const err = errorOf(() => buildConfig({ postgres: { compressionLevel: "high" as never } }, {}));
    expect(err.message).toContain("'postgres.compressionLevel'");
    expect(err.message).toContain("a whole number from 0 to 9");
    expect(err.hint).toContain("dr.config.ts");
  });

  it("rejects an unknown target", () => {
    expect(errorOf(() => buildConfig(undefined, { DR_TARGET: "cloud" })).message).toContain("one of native, external, containers");
  });

  it("validates age recipients", () => {
    expect(buildConfig(undefined, { DR_AGE_RECIPIENTS: RECIPIENT }).encryption.recipients).toEqual([RECIPIENT]);
    const err = errorOf(() => buildConfig(undefined, { DR_AGE_RECIPIENTS: "not-a-key" }));
    expect(err.message).toContain("'DR_AGE_RECIPIENTS'");
  });

  describe("external target", () => {
    const env = {
      DR_TARGET: "external",
      DR_DATABASE_URL: "postgres://app:s3cret@db.internal:5432/deltacrown",
      DR_REDIS_URL: "redis://cache.internal:6379",
      DR_MEDIA_DIR: "/srv/media",
      DR_S3_BUCKET: "backups",
      DR_S3_PREFIX: "/prod/",
    };

    it("reads the DR_* variables", () => {
      const config = buildConfig(undefined, env);
      expect(config.external).toMatchObject({
        databaseUrl: env.DR_DATABASE_URL,
        mediaDir: "/srv/media",
        s3: { bucket: "backups", prefix: "prod/", region: "us-east-1", endpoint: undefined },
      });
    });

    it("names a missing variable", () => {
      const err = errorOf(() => buildConfig(undefined, { ...env, DR_S3_BUCKET: undefined }));
      expect(err).toMatchObject({ code: "CONFIG_MISSING", exitCode: 2 });
      expect(err.message).toContain("'DR_S3_BUCKET'");
    });

    it("takes any subset of components: each is optional, only the bucket is required", () => {
      const pgOnly = buildConfig(undefined, { ...env, DR_REDIS_URL: undefined, DR_MEDIA_DIR: undefined });
      expect(configuredComponents(pgOnly)).toEqual(["postgres"]);
      const mediaOnly = buildConfig(undefined, { ...env, DR_DATABASE_URL: undefined, DR_REDIS_URL: undefined });
      expect(configuredComponents(mediaOnly)).toEqual(["media"]);
      const bucketOnly = buildConfig(undefined, { DR_TARGET: "external", DR_S3_BUCKET: "backups" });
      expect(configuredComponents(bucketOnly)).toEqual([]);
      expect(configuredComponents(buildConfig(undefined, env))).toEqual(["postgres", "redis", "media"]);
      expect(configuredComponents(buildConfig(undefined, {}))).toEqual(["postgres", "redis", "media"]);
    });

    it("names the variable of a URL with a malformed %-escape, without echoing its password", () => {
      const err = errorOf(() => buildConfig(undefined, { ...env, DR_DATABASE_URL: "postgres://app:pa%dess@db:5432/x" }));
      expect(err.message).toContain("'DR_DATABASE_URL': its password holds a malformed %-escape");
      expect(err.message).not.toContain("pa%dess");
      expect(err.hint).toContain("%25");
    });

    it("never echoes an age secret key given as a recipient", () => {
      const secret = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
      const err = errorOf(() => buildConfig(undefined, { DR_AGE_RECIPIENTS: secret }));
      expect(err.message).toContain("SECRET key");
      expect(`${err.message} ${err.hint}`).not.toContain(secret.slice(15));
    });

    it("names a malformed URL without echoing its password", () => {
      const err = errorOf(() => buildConfig(undefined, { ...env, DR_DATABASE_URL: "mysql://app:s3cret@db:3306/x" }));
      expect(err.message).toContain("'DR_DATABASE_URL'");
      expect(err.message).not.toContain("s3cret");
      expect(err.exitCode).toBe(2);
    });
  });
});

describe("loadConfig", () => {
  it("reads dr.config.ts from the working folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dr-config-"));
    try {
      await writeFile(join(dir, "dr.config.ts"), "export default { objectives: { rpo: '2h' }, smoke: { commands: [{ name: 'check', command: ['true'] }] } };\n");
      const config = await loadConfig({}, dir);
      expect(config.objectives.rpoMs).toBe(7_200_000);
      expect(config.smoke.commands).toEqual([{ name: "check", command: ["true"], timeoutMs: 300_000 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails clearly when DR_CONFIG points nowhere", async () => {
    await expect(loadConfig({ DR_CONFIG: "nope.config.ts" }, tmpdir())).rejects.toThrow(/unable to load configuration file 'nope.config.ts': no such file/);
  });
});
