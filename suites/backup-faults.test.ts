// Bad input and faults of the backup half: each leaves nothing lost and says what failed.
import { execa } from "execa";
import { existsSync, readdirSync } from "node:fs";
import { createWriteStream } from "node:fs";
import { mkdtemp, writeFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { generateIdentity } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backupMedia,
  backupPostgres,
  backupRedis,
  resolveRecipients,
  restorePostgres,
  verifyBackup,
} from "../src/components/index.ts";
import { downloadPart, partOf } from "../src/components/download-part.ts";
import { dumpSink } from "../src/components/postgres/dump-compression.ts";
import { buildConfig } from "../src/config/index.ts";
import { corruptObject } from "../src/drill/run-drill.ts";
import { isDrError, type DrError } from "../src/errors/index.ts";
import { listCompleteBackups } from "../src/manifest/index.ts";
import { S3Storage } from "../src/storage/index.ts";
import { startNativeRedis } from "../src/targets/index.ts";
import { listKeys, startNativeFixture, type NativeFixture } from "./helpers/native-fixture.ts";
import { drErrorOf } from "../src/errors/dr-error-of.ts";

let fx: NativeFixture;


/** Pending multipart uploads as fauxqs keeps them on disk. */
function pendingMultipartUploads(): number {
  const s3Dir = fx.target.dirs().find((d) => d.includes("dr-drill-s3-"))!;
  const dir = join(s3Dir, "objects", "_multipart");
  return existsSync(dir) ? readdirSync(dir).length : 0;
}

describe("backup faults", () => {
  beforeAll(async () => {
    fx = await startNativeFixture();
  }, 120_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it("takes a good backup first (the one every fault below must leave intact)", async () => {
    const manifest = await backupPostgres(fx.ctx());
    expect(manifest.parts[0]!.size).toBeGreaterThan(1_000_000);
    expect((await listCompleteBackups(fx.storage, "postgres")).map((m) => m.id)).toEqual([manifest.id]);
  });

  it("wrong password: clear error, nothing uploaded, no manifest", async () => {
    const before = await listKeys(fx.storage);
    const err = await drErrorOf(backupPostgres(fx.ctx({ postgres: { ...fx.target.postgres, password: "wrong-password" } })));
    expect(err.code).toBe("TARGET_UNREACHABLE");
    expect(err.message).toMatch(/^unable to connect to PostgreSQL 'postgres:\/\/postgres@127\.0\.0\.1:\d+\/deltacrown': password authentication failed/);
    expect(err.message).not.toContain("wrong-password");
    expect(await listKeys(fx.storage)).toEqual(before);
  });

  it("unreachable database: clear error, nothing uploaded", async () => {
    const before = await listKeys(fx.storage);
    const err = await drErrorOf(backupPostgres(fx.ctx({ postgres: { ...fx.target.postgres, port: 1 } })));
    expect(err.code).toBe("TARGET_UNREACHABLE");
    expect(err.message).toContain("127.0.0.1:1");
    expect(await listKeys(fx.storage)).toEqual(before);
  });

  it("pg_dump killed midway: upload aborted, no manifest, earlier backups intact", async () => {
    const before = await listCompleteBackups(fx.storage, "postgres");
    let killed = false;
    const err = await drErrorOf(backupPostgres(fx.ctx({
      onProgress: (_step, bytes) => {
        if (killed || bytes < 2_000_000) return;
        killed = true;
        // Our own child only: pg_dump processes whose parent is this test process.
        void execa("pkill", ["-KILL", "-P", String(process.pid), "-x", "pg_dump"], { reject: false });
      },
    })));
    expect(killed).toBe(true);
    expect(err.message).toMatch(/pg_dump|killed|SIGKILL/);
    const after = await listCompleteBackups(fx.storage, "postgres");
    expect(after.map((m) => m.id)).toEqual(before.map((m) => m.id));
    const postgresKeys = await listKeys(fx.storage, "postgres/");
    expect(postgresKeys.filter((k) => !before.some((m) => k.startsWith(`postgres/${m.id.slice(9)}`)))).toEqual([]);
    expect(pendingMultipartUploads()).toBe(0);
    const check = await verifyBackup({ storage: fx.storage, manifest: before[0]!, identities: [fx.identity] });
    expect(check.ok).toBe(true);
  });

  it("S3 unreachable: bounded retries, then a clear failure naming the endpoint", async () => {
    const storage = new S3Storage({ ...fx.target.s3, endpoint: "http://127.0.0.1:1" }, { maxAttempts: 3, connectionTimeoutMs: 1000 });
    const started = performance.now();
    const err = await drErrorOf(backupPostgres(fx.ctx({ storage })));
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(err.message).toContain("127.0.0.1:1");
    expect(err.message).not.toContain(fx.target.s3.credentials!.secretAccessKey);
    storage.client.destroy();
  });

  it("bucket missing: error with a hint", async () => {
    const storage = new S3Storage({ ...fx.target.s3, bucket: "no-such-bucket" });
    const err = await drErrorOf(storage.check());
    expect(err.code).toBe("BUCKET_MISSING");
    expect(err.message).toBe("unable to open bucket 'no-such-bucket': it does not exist");
    expect(err.hint).toContain("DR_S3_BUCKET");
    storage.client.destroy();
  });

  it("BGSAVE failing: clear error, nothing uploaded", async () => {
    const redis = await startNativeRedis({ label: "redis-broken" });
    try {
      // The server's folder disappears: its background save cannot write the temp file.
      await rm(redis.endpoint.localDataDir!, { recursive: true, force: true });
      const before = await listKeys(fx.storage, "redis/");
      const err = await drErrorOf(backupRedis(fx.ctx({ redis: { ...redis.endpoint, localDataDir: "/" } })));
      expect(err.code).toBe("BACKUP_FAILED");
      expect(err.message).toMatch(/BGSAVE finished with status 'err'/);
      expect(await listKeys(fx.storage, "redis/")).toEqual(before);
    } finally {
      await redis.stop();
    }
  });

  it("a media file vanishing during sync: the backup completes without it and reports it", async () => {
    const victim = "uploads/vanishing.bin";
    await writeFile(join(fx.target.mediaDir, victim), Buffer.alloc(1000, 1));
    const manifest = await backupMedia(fx.ctx(), {
      beforeRead: async (path) => {
        if (path === victim) await rm(join(fx.target.mediaDir, victim));
      },
    });
    expect(manifest.media!.vanishedFiles).toEqual([victim]);
    expect(manifest.media!.files).toBeGreaterThan(100);
    const check = await verifyBackup({ storage: fx.storage, manifest, identities: [fx.identity] });
    expect(check.ok).toBe(true);
  });

  it("refuses to write plaintext unless told to", () => {
    const config = buildConfig(undefined, {});
    let error: unknown;
    try {
      resolveRecipients(config, false);
    } catch (e) {
      error = e;
    }
    expect(isDrError(error, "CONFIG_MISSING")).toBe(true);
    expect((error as DrError).exitCode).toBe(2);
    expect((error as DrError).hint).toContain("--allow-unencrypted");
    expect(resolveRecipients(config, true)).toEqual([]);
  });

  it("verify with the wrong age key: clear decryption error", async () => {
    const [manifest] = await listCompleteBackups(fx.storage, "postgres");
    const result = await verifyBackup({ storage: fx.storage, manifest: manifest!, identities: [await generateIdentity()] });
    expect(result.ok).toBe(false);
    expect(result.checks.at(-1)!.detail).toMatch(/^unable to decrypt backup 'postgres-\d{8}T\d{9}Z'/);
  });

  it("restore with the wrong age key: clear error, nothing created", async () => {
    const [manifest] = await listCompleteBackups(fx.storage, "postgres");
    const scratch = await fx.target.startScratchPostgres();
    try {
      const err = await drErrorOf(restorePostgres({
        storage: fx.storage, manifest: manifest!, identities: [await generateIdentity()],
        into: { ...scratch.endpoint, database: "dr_drill_restore_wrong_key" }, source: fx.target.postgres, jobs: 2,
      }));
      expect(err.code).toBe("DECRYPTION_FAILED");
      expect(err.hint).toContain("DR_AGE_IDENTITY_FILE");
    } finally {
      await scratch.stop();
    }
  });

  it("refuses to restore into the source database or a database it did not create", async () => {
    const [manifest] = await listCompleteBackups(fx.storage, "postgres");
    const base = { storage: fx.storage, manifest: manifest!, identities: [fx.identity], source: fx.target.postgres, jobs: 2 };
    const intoSource = await drErrorOf(restorePostgres({ ...base, into: fx.target.postgres }));
    expect(intoSource.code).toBe("RESTORE_REFUSED");
    expect(intoSource.message).toContain("it is the source database");
    const intoExisting = await drErrorOf(restorePostgres({ ...base, into: { ...fx.target.postgres, database: "postgres" } }));
    expect(intoExisting.message).toContain("already exists and is not a dr-drill scratch database");
  });

  it("a stored object corrupted by one byte: verify names the key and the SHA-256 mismatch", async () => {
    const manifest = await backupPostgres(fx.ctx());
    await corruptObject(fx.storage, manifest.parts[0]!.key);
    const result = await verifyBackup({ storage: fx.storage, manifest, identities: [fx.identity] });
    expect(result.ok).toBe(false);
    expect(result.checks.at(-1)!.detail).toBe(
      `unable to verify backup '${manifest.id}': SHA-256 mismatch on '${manifest.parts[0]!.key}': expected ${manifest.parts[0]!.sha256}, got ${result.checks.at(-1)!.detail.split("got ")[1]}`,
    );
    expect(result.checks.at(-1)!.detail.split("got ")[1]).not.toBe(manifest.parts[0]!.sha256);
  });

  it("zstd over pg_dump -Z0: the manifest says so, and the stock tools restore it (age -d | zstd -d | pg_restore --list)", async () => {
    const manifest = await backupPostgres(fx.ctx(), { compression: { method: "zstd", level: 1 } });
    expect(manifest.compression).toBe("zstd -1 over pg_dump -Z 0");
    expect(manifest.postgres!.compressionLevel).toBe(0);
    const dir = await mkdtemp(join(tmpdir(), "backup-faults-zstd-"));
    try {
      const stored = join(dir, "dump.age");
      await pipeline(await fx.storage.get(manifest.parts[0]!.key), createWriteStream(stored));
      const key = join(dir, "key.txt");
      await writeFile(key, `${fx.identity}\n`, { mode: 0o600 });
      // The README's hand restore, with the stock CLIs only (to a file: pg_restore --list stops
      // reading after the table of contents, which zstd would report as a broken pipe).
      const archive = join(dir, "stock.dump");
      await execa("age", ["-d", "-i", key, stored]).pipe("zstd", ["-d", "-q", "-o", archive]);
      const toc = (await execa("pg_restore", ["--list", archive])).stdout;
      // The manifest records the archive's size as pg_dump wrote it: what a restore's temp file needs.
      expect(manifest.postgres!.archiveBytes).toBe((await stat(archive)).size);
      expect(manifest.postgres!.archiveBytes).toBeGreaterThan(manifest.parts[0]!.plainSize);
      // Every byte of the archive reads back (pg_restore to a script reads all table data).
      await execa("pg_restore", ["--file=/dev/null", archive]);
      const tables = Object.keys(manifest.postgres!.tables);
      expect(tables.length).toBeGreaterThan(5);
      for (const table of tables) expect(toc).toContain(`TABLE DATA ${table.replace(".", " ")} `);
      // dr-drill's side: what the restore puts between the decrypted bytes and its temp file.
      const file = join(dir, "restored.dump");
      await downloadPart(partOf({ storage: fx.storage, manifest, identities: [fx.identity] }), dumpSink(manifest, createWriteStream(file)));
      expect((await execa("pg_restore", ["--list", file])).stdout).toContain("TABLE DATA public ");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("pg_dump killed midway with zstd: the compressor never ends its frame, no manifest, nothing left", async () => {
    const before = await listCompleteBackups(fx.storage, "postgres");
    let killed = false;
    const err = await drErrorOf(backupPostgres(fx.ctx({
      onProgress: (_step, bytes) => {
        if (killed || bytes < 500_000) return;
        killed = true;
        void execa("pkill", ["-KILL", "-P", String(process.pid), "-x", "pg_dump"], { reject: false });
      },
    }), { compression: { method: "zstd", level: 1 } }));
    expect(killed).toBe(true);
    expect(err.message).toMatch(/pg_dump|killed|SIGKILL/);
    expect((await listCompleteBackups(fx.storage, "postgres")).map((m) => m.id)).toEqual(before.map((m) => m.id));
    const postgresKeys = await listKeys(fx.storage, "postgres/");
    expect(postgresKeys.filter((k) => !before.some((m) => k.startsWith(`postgres/${m.id.slice(9)}`)))).toEqual([]);
    expect(pendingMultipartUploads()).toBe(0);
  });
});
