// Each of the ten ops checks must fail on a real fault. One drill runs with two faults
// injected (the newest PostgreSQL backup corrupted by one byte; a smoke command that fails),
// then each test breaks what its check guards and asserts the check's verdict and reason.
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDrillOn, setUpDrill, type DrillSetup } from "../src/drill/rehearsal-setup.ts";
import { opsInputFor } from "../src/ops/ops-input.ts";
import { connectPostgres } from "../src/clients/index.ts";
import { backupPostgres, backupRedis } from "../src/components/index.ts";
import { checkSizeRange } from "../src/measure/index.ts";
import type { DrillResult } from "../src/drill/drill-result.ts";
import { corruptObject } from "../src/drill/run-drill.ts";
import { OPS_CHECKS, runOpsCheck, type OpsInput } from "../src/ops/index.ts";
import { buildReport, renderMarkdown } from "../src/report/index.ts";
import { GetObjectLockConfigurationCommand, PutObjectLockConfigurationCommand } from "@aws-sdk/client-s3";
import { S3Storage } from "../src/storage/index.ts";

let setup: DrillSetup;
let drill: DrillResult;

const check = (name: string) => OPS_CHECKS.find((c) => c.name === name)!;
const run = (name: string, input: OpsInput) => runOpsCheck(check(name), input);
const ctxOf = (recipients: readonly string[]) => ({
  storage: setup.storage, config: setup.config, postgres: setup.target.postgres, redis: setup.target.redis,
  mediaDir: setup.target.mediaDir, recipients,
});

describe("ops checks fail on real faults", () => {
  beforeAll(async () => {
    setup = await setUpDrill();
    setup.config.smoke.commands = [{ name: "manage.py check", command: ["sh", "-c", "echo 'SystemCheckError: 1 issue (models.E001)' >&2; exit 3"], timeoutMs: 10_000 }];
    drill = await runDrillOn(setup, { corruptLatestPostgres: true, scenarios: [], pitr: false });
  }, 600_000);
  afterAll(async () => {
    await setup?.stop();
  });

  it("the drill falls back past the corrupted latest backup and reports it; the RPO reflects the fallback", () => {
    const pgBackups = drill.backups.filter((b) => b.component === "postgres");
    const recovery = drill.recoveries.postgres;
    expect(recovery.skipped.map((s) => s.id)).toEqual([pgBackups[1]!.id]);
    expect(recovery.skipped[0]!.reason).toMatch(/SHA-256 mismatch on 'postgres\/.*deltacrown\.dump\.age'/);
    expect(recovery.backupId).toBe(pgBackups[0]!.id);
    // Restored from the older backup: the data loss reaches back to its snapshot.
    expect(drill.rpo.measuredLossMs!).toBeGreaterThan(Date.parse(drill.failureAt) - Date.parse(pgBackups[1]!.consistentAt));
    const report = buildReport("test:ops", drill, [], "test", []);
    expect(report.recommendations.join("\n")).toContain(`Backup ${pgBackups[1]!.id} is unusable`);
    expect(renderMarkdown(report)).toContain("**Skipped backups**");
  });

  it("test_postgres_backup_creates_dump_file fails on a corrupted dump", async () => {
    const result = await run("test_postgres_backup_creates_dump_file", opsInputFor(setup, drill));
    expect(result.status).toBe("failed");
    expect(result.detail).toContain("SHA-256 mismatch");
  });

  it("test_restore_postgres_from_latest_backup fails when the latest backup could not be restored", async () => {
    const result = await run("test_restore_postgres_from_latest_backup", opsInputFor(setup, drill));
    expect(result.status).toBe("failed");
    expect(result.detail).toContain("not the latest");
  });

  it("test_restored_db_passes_smoke_checks fails on a failing smoke command, with its output", async () => {
    const result = await run("test_restored_db_passes_smoke_checks", opsInputFor(setup, drill));
    expect(result.status).toBe("failed");
    expect(result.detail).toContain("manage.py check");
    expect(result.detail).toContain("SystemCheckError: 1 issue (models.E001)");
    expect(result.detail).toContain("exited with code 3");
  });

  it("test_rpo_within_target_1_hour fails when the data loss exceeds the target", async () => {
    const config = { ...setup.config, objectives: { ...setup.config.objectives, rpoMs: 1 } };
    const result = await run("test_rpo_within_target_1_hour", opsInputFor(setup, drill, { config }));
    expect(result.status).toBe("failed");
    expect(result.detail).toMatch(/measured data loss .* exceeds 1ms/);
  });

  it("test_rto_within_target_15_minutes fails when recovery takes longer than the target", async () => {
    const config = { ...setup.config, objectives: { ...setup.config.objectives, rtoMs: 1 } };
    // Only the target is at fault here: treat the recovery as having passed its checks.
    const recovered = { ...drill, recoveries: { ...drill.recoveries, postgres: { ...drill.recoveries.postgres, ok: true } } };
    const result = await run("test_rto_within_target_15_minutes", opsInputFor(setup, recovered, { config }));
    expect(result.status).toBe("failed");
    expect(result.detail).toMatch(/measured RTO .* exceeds 1ms/);
  });

  it("test_rto_within_target_15_minutes fails when the restored database did not pass its smoke checks", async () => {
    const result = await run("test_rto_within_target_15_minutes", opsInputFor(setup, drill));
    expect(result.status).toBe("failed");
    expect(result.detail).toContain("the recovery did not complete");
  });

  it("test_postgres_backup_size_within_expected_range fails when the dump shrinks by more than half", async () => {
    const client = await connectPostgres(setup.target.postgres);
    await client.query("TRUNCATE accounts_user CASCADE");
    await client.end();
    const shrunk = await backupPostgres(ctxOf(setup.config.encryption.recipients));
    const history = drill.backups.filter((b) => b.component === "postgres").map((b) => b.storedBytes);
    const sizeRange = checkSizeRange(shrunk.storedBytes, history);
    const result = await run("test_postgres_backup_size_within_expected_range", opsInputFor(setup, { ...drill, sizeRange }));
    expect(result.status).toBe("failed");
    expect(result.detail).toMatch(/shrank to \d+% of the median/);
  });

  it("test_redis_rdb_snapshot_generated fails when the stored RDB is corrupt", async () => {
    const manifest = await backupRedis(ctxOf(setup.config.encryption.recipients));
    await corruptObject(setup.storage, manifest.parts[0]!.key);
    const result = await run("test_redis_rdb_snapshot_generated", opsInputFor(setup, { ...drill, backups: [...drill.backups, manifest], newest: { ...drill.newest, redis: manifest } }));
    expect(result.status).toBe("failed");
    expect(result.detail).toContain("verify failed");
  });

  it("test_media_files_sync_to_s3 fails when the snapshot does not hold the source's files", async () => {
    await writeFile(join(setup.target.mediaDir, "uploads", "after-snapshot.png"), Buffer.alloc(2048, 3));
    try {
      // The check syncs again (no-change run): pass a drill whose newest snapshot predates the new file.
      const result = await run("test_media_files_sync_to_s3", opsInputFor(setup, drill));
      expect(result.status).toBe("failed");
      expect(result.detail).toMatch(/snapshot has \d+ files, source \d+ \(1 missing\)/);
    } finally {
      await rm(join(setup.target.mediaDir, "uploads", "after-snapshot.png"));
    }
  });

  it("test_backup_retention_policy_enforced fails when deletions do not happen", async () => {
    /** Storage whose deletes are silently dropped (a bucket policy denying DeleteObject, say). */
    class NoDeleteStorage extends S3Storage {
      override async delete(): Promise<void> {}
      override async deleteMany(): Promise<void> {}
    }
    const result = await run("test_backup_retention_policy_enforced", opsInputFor(setup, drill, {
      scratchStorage: (prefix) => new NoDeleteStorage({ ...setup.target.s3, prefix: `${setup.target.s3.prefix}${prefix}` }),
    }));
    expect(result.status).toBe("failed");
    expect(result.detail).toContain("instead of");
  });

  it("test_backup_encryption_enabled fails on a plaintext backup", async () => {
    const plain = await backupPostgres(ctxOf([]));
    const result = await run("test_backup_encryption_enabled", opsInputFor(setup, { ...drill, backups: [...drill.backups, plain], newest: { ...drill.newest, postgres: plain } }));
    expect(result.status).toBe("failed");
    expect(result.detail).toContain("manifest says none");
    expect(result.detail).toContain("does not start with the age header");
    expect(result.detail).toContain("holds plaintext magic");
  });

  it("test_backups_immutable_object_lock fails on a backup written after the bucket's default retention was removed", async (ctx) => {
    const storage = setup.storage;
    if (!(storage instanceof S3Storage) || !storage.capabilities.objectLock) {
      if (process.env.DR_REQUIRE_VERIFIED === "1") throw new Error(`storage ${storage.location} has no Object Lock, but DR_REQUIRE_VERIFIED=1`);
      ctx.skip(`storage ${storage.location} has no Object Lock (${storage.capabilities.reasons?.objectLock ?? "unsupported"})`);
      return;
    }
    const { bucket } = storage.endpoint;
    const before = await storage.client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    await storage.client.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: "Enabled" } }));
    try {
      const unlocked = await backupRedis(ctxOf(setup.config.encryption.recipients));
      const result = await run("test_backups_immutable_object_lock", opsInputFor(setup, { ...drill, backups: [...drill.backups, unlocked], newest: { ...drill.newest, redis: unlocked } }));
      expect(result.status).toBe("failed");
      expect(result.detail).toContain(`backup '${unlocked.parts[0]!.key}' carries no Object Lock retention`);
      expect(result.detail).toContain(`bucket '${bucket}' has no default retention rule`);
    } finally {
      await storage.client.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: before.ObjectLockConfiguration }));
    }
  });
});
