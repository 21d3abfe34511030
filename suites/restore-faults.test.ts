// Faults of the restore half: a second restore never destroys a promoted database, a failed
// restore leaves nothing that blocks the retry, a full local disk says so.
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { generateIdentity } from "age-encryption";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres, parsePostgresUrl } from "../src/clients/index.ts";
import {
  backupMedia,
  backupPostgres,
  backupRedis,
  dropScratchDatabase,
  restoreMedia,
  restorePostgres,
  restoreRedisToDir,
  SCRATCH_COMMENT,
} from "../src/components/index.ts";
import { readIdentityFile } from "../src/crypto/age.ts";
import { isDrError, type DrError } from "../src/errors/index.ts";
import { makeTempDir, removeTempDir, tempRoot as tempRootOf } from "../src/lifecycle/index.ts";
import type { BackupManifest } from "../src/manifest/index.ts";
import { createStorage, S3Storage, type SignedRequest } from "../src/storage/index.ts";
import type { PostgresEndpoint } from "../src/targets/index.ts";
import { startNativeS3 } from "../src/targets/index.ts";
import { startNativeFixture, type NativeFixture } from "./helpers/native-fixture.ts";
import { drErrorOf } from "../src/errors/dr-error-of.ts";

let fx: NativeFixture;
let work: string;
let pgManifest: BackupManifest;
let redisManifest: BackupManifest;


/** One query on a short-lived connection. */
async function query<T extends Record<string, unknown>>(endpoint: PostgresEndpoint, sql: string): Promise<T[]> {
  const client = await connectPostgres(endpoint);
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function commentOf(database: string): Promise<string | null | undefined> {
  const rows = await query<{ comment: string | null }>(fx.target.postgres, `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = '${database}'`);
  return rows[0]?.comment;
}

const restoreInto = (database: string, extra: { replace?: boolean; identities?: string[] } = {}) =>
  restorePostgres({
    storage: fx.storage,
    manifest: pgManifest,
    identities: extra.identities ?? [fx.identity],
    into: { ...fx.target.postgres, database },
    source: fx.target.postgres,
    jobs: 2,
    replace: extra.replace,
  });

/** Mount a small tmpfs (root only); undefined with the reason when this machine cannot. */
async function mountSmallDisk(bytes: number): Promise<{ dir: string; unmount(): Promise<void> } | string> {
  if (process.getuid?.() !== 0) return "not verified: mounting a small tmpfs needs root";
  const dir = join(work, `small-disk-${bytes}`);
  await mkdir(dir, { recursive: true });
  const mounted = await execa("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { reject: false });
  if (mounted.exitCode !== 0) return `not verified: mount -t tmpfs failed: ${mounted.stderr}`;
  return { dir, unmount: async () => void (await execa("umount", [dir], { reject: false })) };
}

describe("restore faults", () => {
  beforeAll(async () => {
    fx = await startNativeFixture(15e6);
    work = await makeTempDir("restore-faults");
    pgManifest = await backupPostgres(fx.ctx());
    redisManifest = await backupRedis(fx.ctx());
  }, 180_000);
  afterAll(async () => {
    await fx?.stop();
    if (work) await removeTempDir(work);
  });

  describe("a second restore never destroys a promoted database (item 3)", () => {
    const restored1 = () => ({ ...fx.target.postgres, database: "restored1" });
    const users = async (database: string) => Number((await query<{ n: string }>({ ...fx.target.postgres, database }, "SELECT count(*) AS n FROM accounts_user"))[0]!.n);

    it("records when it created the database and its fingerprint after the restore", async () => {
      await restoreInto("restored1");
      expect(await commentOf("restored1")).toMatch(new RegExp(`^${SCRATCH_COMMENT} \\(created \\S+Z; restored ${pgManifest.id}; fingerprint [0-9a-f]{32}\\)$`));
    });

    it("refuses an existing scratch database without --replace (exit 2, HINT names --replace), and leaves it as it was", async () => {
      const comment = await commentOf("restored1");
      const err = await drErrorOf(restoreInto("restored1"));
      expect(err.code).toBe("RESTORE_REFUSED");
      expect(err.exitCode).toBe(2);
      expect(err.message).toMatch(/^unable to restore into database 'postgres:\/\/postgres@127\.0\.0\.1:\d+\/restored1': it already exists \(a dr-drill scratch database created \S+\)$/);
      expect(err.hint).toContain("--replace");
      expect(await commentOf("restored1")).toBe(comment);
    });

    it("--replace replaces an unused, unchanged scratch database, even after VACUUM ANALYZE touched it (what autovacuum does)", async () => {
      await query(restored1(), "VACUUM ANALYZE");
      const before = await commentOf("restored1");
      const result = await restoreInto("restored1", { replace: true });
      expect(result.restoredBytes).toBeGreaterThan(1e6);
      const after = await commentOf("restored1");
      expect(after).not.toBe(before);
      expect(after).toMatch(/fingerprint [0-9a-f]{32}\)$/);
    });

    it("--replace refuses a scratch database someone wrote to since (promoted), and the written row survives", async () => {
      const promoted = async () => Number((await query<{ n: string }>(restored1(), "SELECT count(*) AS n FROM accounts_user WHERE bio = 'promoted'"))[0]!.n);
      await query(restored1(), "UPDATE accounts_user SET bio = 'promoted' WHERE id = (SELECT min(id) FROM accounts_user)");
      const err = await drErrorOf(restoreInto("restored1", { replace: true }));
      expect(err.code).toBe("RESTORE_REFUSED");
      expect(err.exitCode).toBe(2);
      expect(err.message).toContain(`it changed since dr-drill restored backup ${pgManifest.id} into it`);
      expect(err.hint).toContain("promoted");
      expect(await promoted()).toBe(1);
      // The drill's cleanup refuses it too.
      const dropped = await drErrorOf(dropScratchDatabase(restored1()));
      expect(dropped.message).toContain("it changed since dr-drill restored");
      expect(await promoted()).toBe(1);
    });

    it("--replace refuses a scratch database changed by DDL alone (a new function)", async () => {
      await restoreInto("restored2");
      const restored2 = { ...fx.target.postgres, database: "restored2" };
      await query(restored2, "CREATE FUNCTION promoted_marker() RETURNS int LANGUAGE sql AS 'SELECT 1'");
      const err = await drErrorOf(restoreInto("restored2", { replace: true }));
      expect(err.message).toContain("it changed since dr-drill restored");
      expect((await query<{ n: string }>(restored2, "SELECT count(*) AS n FROM pg_proc WHERE proname = 'promoted_marker'"))[0]!.n).toBe("1");
    });

    it("--replace and the drill's cleanup refuse a scratch database someone is connected to; it is dropped once they leave", async () => {
      await restoreInto("restored3");
      const restored3 = { ...fx.target.postgres, database: "restored3" };
      const session = await connectPostgres(restored3);
      await session.query("SET application_name = 'promoted-app'");
      try {
        const err = await drErrorOf(restoreInto("restored3", { replace: true }));
        expect(err.code).toBe("RESTORE_REFUSED");
        expect(err.message).toContain("it is in use (1 session: postgres (promoted-app))");
        const drop = await drErrorOf(dropScratchDatabase(restored3));
        expect(drop.message).toContain("it is in use");
        expect(await commentOf("restored3")).toMatch(/fingerprint/);
      } finally {
        await session.end();
      }
      await dropScratchDatabase(restored3);
      expect(await commentOf("restored3")).toBeUndefined();
    });

    it("a database dr-drill did not create is refused even with --replace", async () => {
      const err = await drErrorOf(restoreInto("postgres", { replace: true }));
      expect(err.message).toContain("already exists and is not a dr-drill scratch database");
    });

    it("a failed restore (wrong key) drops the database it created and says so; the retry succeeds", async () => {
      const err = await drErrorOf(restoreInto("restored4", { identities: [await generateIdentity()] }));
      expect(err.code).toBe("DECRYPTION_FAILED");
      expect(err.message).toContain("Nothing of this restore was left behind: the half-restored database 'restored4' was dropped and the decrypted dump was removed.");
      expect(await commentOf("restored4")).toBeUndefined();
      await restoreInto("restored4");
      expect(await users("restored4")).toBeGreaterThan(0);
    });
  });

  describe("the restore pipeline (issue 14): complete, compressed either way, hash-checked", () => {
    // Temp folders of this describe in a folder of its own: other processes' restores (another
    // suite, a drill) make dr-drill-pg-restore-* folders in the shared TMPDIR meanwhile.
    const previousTmp = process.env.DR_TMPDIR;
    beforeAll(async () => {
      process.env.DR_TMPDIR = await mkdtemp(join(tmpdir(), "restore-faults-tmp-"));
    });
    afterAll(async () => {
      const own = process.env.DR_TMPDIR!;
      if (previousTmp === undefined) delete process.env.DR_TMPDIR;
      else process.env.DR_TMPDIR = previousTmp;
      await rm(own, { recursive: true, force: true });
    });
    /** A database with what a restore pipeline could lose: large objects and their comments, sequences, comments, views, functions, constraints, indexes. */
    const FEATURES_SQL = `
      CREATE TABLE parent (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
      CREATE TABLE child (id bigserial PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id), note text, doc oid);
      CREATE INDEX child_note ON child (lower(note));
      COMMENT ON TABLE parent IS 'parents, commented';
      COMMENT ON COLUMN child.note IS 'a column comment';
      CREATE SEQUENCE invoice_no START 1000 INCREMENT 7;
      CREATE VIEW child_names AS SELECT c.id, p.name FROM child c JOIN parent p ON p.id = c.parent_id;
      CREATE FUNCTION twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
      INSERT INTO parent (name) SELECT 'p' || g FROM generate_series(1, 500) g;
      INSERT INTO child (parent_id, note) SELECT 1 + g % 500, repeat(md5(g::text), 20) FROM generate_series(1, 20000) g;
      SELECT nextval('invoice_no') FROM generate_series(1, 5);
      SELECT setval('child_id_seq', 50000);
      UPDATE child SET doc = lo_from_bytea(0, convert_to(repeat('large object ' || id, 5000), 'UTF8')) WHERE id <= 3;
    `;
    /** Everything compared between the source and the restore: schema (pg_dump --schema-only), counts, sequences, large objects with their bytes and comments. */
    async function describeDatabase(database: string): Promise<Record<string, unknown>> {
      const endpoint = { ...fx.target.postgres, database };
      const schema = await execa("/usr/lib/postgresql/15/bin/pg_dump", ["--schema-only", "--no-owner", "--no-acl", "-h", endpoint.host, "-p", String(endpoint.port), "-U", endpoint.user, database], {
        env: { PGPASSWORD: endpoint.password },
      });
      const one = async (sql: string) => (await query<{ v: unknown }>(endpoint, sql))[0]!.v;
      return {
        // pg_dump's random \restrict key differs per run by design.
        schema: schema.stdout.replace(/^-- Dumped (from|by) .*$/gm, "").replace(/^\\(un)?restrict \S+$/gm, ""),
        parents: await one("SELECT count(*)::int AS v FROM parent"),
        children: await one("SELECT count(*)::int AS v FROM child"),
        notes: await one("SELECT md5(string_agg(note, ',' ORDER BY id)) AS v FROM child"),
        invoiceNo: await one("SELECT last_value::int AS v FROM invoice_no"),
        childSeq: await one("SELECT last_value::int AS v FROM child_id_seq"),
        largeObjects: await query(endpoint, "SELECT c.id, md5(lo_get(c.doc)) AS bytes, obj_description(c.doc, 'pg_largeobject') AS comment FROM child c WHERE c.doc IS NOT NULL ORDER BY c.id"),
        tableComment: await one("SELECT obj_description('parent'::regclass, 'pg_class') AS v"),
        viewRows: await one("SELECT count(*)::int AS v FROM child_names"),
        twice: await one("SELECT twice(21) AS v"),
        constraints: await query(endpoint, "SELECT conname, contype, convalidated FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conname"),
        indexes: await query(endpoint, "SELECT indexrelid::regclass::text AS name, indisvalid FROM pg_index WHERE indrelid IN ('parent'::regclass, 'child'::regclass) ORDER BY 1"),
      };
    }

    it("restores everything a plain pg_restore does: large objects and their comments, sequences, comments, views, functions, constraints, indexes", async () => {
      await query({ ...fx.target.postgres, database: "postgres" }, "CREATE DATABASE features_source");
      const source = { ...fx.target.postgres, database: "features_source" };
      await query(source, FEATURES_SQL);
      const [lo] = await query<{ doc: number }>(source, "SELECT doc FROM child WHERE id = 2");
      await query(source, `COMMENT ON LARGE OBJECT ${lo!.doc} IS 'a large object comment'`);
      const manifest = await backupPostgres(fx.ctx({ postgres: source }));
      const result = await restorePostgres({ storage: fx.storage, manifest, identities: [fx.identity], into: { ...fx.target.postgres, database: "features_restored" }, source, jobs: 2 });
      expect(result.dumpBytes).toBe(manifest.parts[0]!.plainSize);
      const [want, got] = [await describeDatabase("features_source"), await describeDatabase("features_restored")];
      expect((want.largeObjects as unknown[]).length).toBe(3);
      expect(want.invoiceNo).toBe(1028);
      expect(got).toEqual(want);
    });

    it("a backup compressed with zstd outside pg_dump (pg_dump -Z0) restores through the same stream, equal to the source", async () => {
      const source = { ...fx.target.postgres, database: "features_source" };
      const manifest = await backupPostgres(fx.ctx({ postgres: source }), { compression: { method: "zstd", level: 1 } });
      expect(manifest.compression).toBe("zstd -1 over pg_dump -Z 0");
      const result = await restorePostgres({ storage: fx.storage, manifest, identities: [fx.identity], into: { ...fx.target.postgres, database: "features_zstd" }, source, jobs: 2 });
      expect(result.dumpBytes).toBe(manifest.parts[0]!.plainSize);
      expect(await describeDatabase("features_zstd")).toEqual(await describeDatabase("features_source"));
    });

    // (The stock age decrypts a restore's dump into the file itself, so its stored SHA-256 is
    // what the restore recomputes; the plain one is verify's: download-part.test.ts.)
    it("a dump damaged in storage: INTEGRITY_FAILED naming its SHA-256 mismatch, pg_restore never fed, the database created meanwhile dropped, no dump left", async () => {
      // One byte flipped in a copy of the stored dump, which the manifest then names: age stops at the damaged chunk, and the object hashed again tells why.
      const part = pgManifest.parts[0]!;
      const stored = Buffer.concat(await (await fx.storage.get(part.key)).toArray());
      stored[stored.length - 1000] = (stored[stored.length - 1000] ?? 0) ^ 0x01;
      const damagedKey = part.key.replace(/[^/]+$/, "damaged.age");
      await fx.storage.put(damagedKey, stored);
      const forged: BackupManifest = { ...pgManifest, parts: [{ ...part, key: damagedKey }] };
      const err = await drErrorOf(restorePostgres({ storage: fx.storage, manifest: forged, identities: [fx.identity], into: { ...fx.target.postgres, database: "restored_forged" }, source: fx.target.postgres, jobs: 2 }));
      await fx.storage.delete(damagedKey);
      expect(err.code).toBe("INTEGRITY_FAILED");
      expect(err.message).toContain(`unable to verify backup '${pgManifest.id}': SHA-256 mismatch on '${damagedKey}': expected ${part.sha256}, got ${createHash("sha256").update(stored).digest("hex")}`);
      expect(err.message).toContain("Nothing of this restore was left behind: the half-restored database 'restored_forged' was dropped and the decrypted dump was removed.");
      expect(await commentOf("restored_forged")).toBeUndefined();
      expect(readdirSync(tempRootOf()).filter((d) => d.startsWith("dr-drill-pg-restore-"))).toEqual([]);
    });
  });

  describe("failed restores leave nothing that blocks the retry (item 9)", () => {
    it("Redis, wrong key: DECRYPTION_FAILED, no dump.rdb and no partial file, the folder it made is gone; the retry succeeds", async () => {
      const dir = join(work, "redis-wrong-key", "nested");
      const err = await drErrorOf(restoreRedisToDir({ storage: fx.storage, manifest: redisManifest, identities: [await generateIdentity()] }, dir));
      expect(err.code).toBe("DECRYPTION_FAILED");
      expect(err.message).toContain("Nothing of this restore was left behind: its partial file and the folder it created");
      expect(existsSync(join(work, "redis-wrong-key"))).toBe(false);
      const existing = join(work, "redis-existing");
      await mkdir(existing);
      await writeFile(join(existing, "keep.txt"), "mine");
      const again = await drErrorOf(restoreRedisToDir({ storage: fx.storage, manifest: redisManifest, identities: [await generateIdentity()] }, existing));
      expect(again.message).toContain(`Nothing of this restore was left in '${existing}'`);
      expect(readdirSync(existing)).toEqual(["keep.txt"]);
      const ok = await restoreRedisToDir({ storage: fx.storage, manifest: redisManifest, identities: [fx.identity] }, existing);
      expect(ok.bytes).toBe(redisManifest.parts[0]!.plainSize);
      expect(readdirSync(existing).sort()).toEqual(["dump.rdb", "keep.txt"]);
      expect((await stat(join(existing, "dump.rdb"))).size).toBe(redisManifest.parts[0]!.plainSize);
    });

    it("--into an existing file: a clear refusal, not EEXIST", async () => {
      const file = join(work, "a-file");
      await writeFile(file, "x");
      const redis = await drErrorOf(restoreRedisToDir({ storage: fx.storage, manifest: redisManifest, identities: [fx.identity] }, file));
      expect(redis.message).toBe(`unable to restore Redis into '${file}': it is a file, not a folder`);
      expect(redis.exitCode).toBe(2);
      const media = await drErrorOf(restoreMedia({ storage: fx.storage, manifest: redisManifest, identities: [fx.identity] }, file));
      expect(media.message).toBe(`unable to restore media into '${file}': it is a file, not a folder`);
      expect(await readFile(file, "utf8")).toBe("x");
    });

    it("media, S3 killed mid-restore: nothing left in or beside the target; the retry succeeds", async () => {
      const stateDir = join(work, "s3-state");
      let s3 = await startNativeS3("dr-drill-media-fault", stateDir);
      let storage = createStorage(s3.endpoint);
      const manifest = await backupMedia(fx.ctx({ storage }));
      const files = manifest.media!.files;
      expect(files).toBeGreaterThan(50);
      storage.client.destroy();
      const pid = s3.pid;
      /** A real S3 fault at a known point: the server is SIGKILLed as the 20th object is requested. */
      class DyingS3 extends S3Storage {
        gets = 0;
        override async get(key: string, options?: { signal?: AbortSignal }): Promise<Readable> {
          if (++this.gets === 20) process.kill(pid, "SIGKILL");
          return await super.get(key, options);
        }
      }
      const dying = new DyingS3(s3.endpoint);
      const parent = join(work, "media-restore");
      const target = join(parent, "media");
      await mkdir(target, { recursive: true });
      const err = await drErrorOf(restoreMedia({ storage: dying, manifest, identities: [fx.identity] }, target));
      dying.client.destroy();
      await s3.stop();
      expect(dying.gets).toBeGreaterThanOrEqual(20);
      expect(err.message).toMatch(/Nothing of this restore was left behind: the \d+ files? it had written \(in '.*\.media\.dr-drill-partial-\w+'\) were removed; '.*' is as it was before\./);
      expect(readdirSync(parent)).toEqual(["media"]);
      expect(readdirSync(target)).toEqual([]);

      s3 = await startNativeS3("dr-drill-media-fault", stateDir);
      storage = createStorage(s3.endpoint);
      try {
        const restored = await restoreMedia({ storage, manifest, identities: [fx.identity] }, target);
        expect(restored.files).toBe(files);
        expect(readdirSync(parent)).toEqual(["media"]);
        expect((await stat(target)).mode & 0o777).toBe(0o755);
      } finally {
        storage.client.destroy();
        await s3.stop();
      }
    });

    it("Redis into a full disk: says local disk, which folder, how much was needed, TMPDIR; nothing left", async (ctx) => {
      const small = await mountSmallDisk(64 * 1024);
      if (typeof small === "string") return ctx.skip(small);
      try {
        const dir = join(small.dir, "redis");
        const err = await drErrorOf(restoreRedisToDir({ storage: fx.storage, manifest: redisManifest, identities: [fx.identity] }, dir));
        expect(err.code).toBe("RESTORE_FAILED");
        expect(err.message).toMatch(new RegExp(`^unable to restore Redis backup '${redisManifest.id}' into '${dir}': not enough space on the local disk \\(needs .+, .+ free\\)`));
        expect(err.hint).toContain("TMPDIR");
        expect(err.hint).toContain("the backup itself is fine");
        expect(readdirSync(small.dir)).toEqual([]);
      } finally {
        await small.unmount();
      }
    });

    it("a disk that fills during the download: ENOSPC is reported as local disk full, the truncated file removed", async (ctx) => {
      const size = redisManifest.parts[0]!.plainSize;
      const small = await mountSmallDisk(size + 256 * 1024);
      if (typeof small === "string") return ctx.skip(small);
      const disk = small.dir;
      try {
        const dir = join(disk, "redis");
        /** Something else fills the disk after the free-space check, as the download starts. */
        const fill = () => writeFile(join(disk, "filler"), Buffer.alloc(size - 4096)).catch(() => undefined);
        // The download goes through curl (signedGet) when it is installed, through get() otherwise.
        class FillingStorage extends S3Storage {
          override async get(key: string, options?: { signal?: AbortSignal }): Promise<Readable> {
            await fill();
            return await super.get(key, options);
          }
          override async signedGet(key: string): Promise<SignedRequest | undefined> {
            await fill();
            return await super.signedGet(key);
          }
        }
        const storage = new FillingStorage(fx.target.s3);
        const err = await drErrorOf(restoreRedisToDir({ storage, manifest: redisManifest, identities: [fx.identity] }, dir));
        storage.client.destroy();
        expect(err.code).toBe("RESTORE_FAILED");
        expect(err.message).toMatch(new RegExp(`^unable to write file '${dir}/dump\\.rdb\\.dr-drill-partial-\\d+': no space left on the local disk \\(folder '${dir}': needs .+, .+ free\\)`));
        expect(err.message).not.toContain("unable to read backup");
        expect(err.hint).toContain("TMPDIR");
        expect(err.message).toContain("Nothing of this restore was left behind: its partial file and the folder it created");
        expect(existsSync(dir)).toBe(false);
      } finally {
        await rm(join(small.dir, "filler"), { force: true });
        await small.unmount();
      }
    });
  });

  describe("messages (item 15)", () => {
    it("a password with a broken %-escape names the variable, not 'URI malformed', and never the password", () => {
      let error: unknown;
      try {
        parsePostgresUrl("postgres://app:pa%des@db.example:5432/app", "DR_DATABASE_URL");
      } catch (e) {
        error = e;
      }
      expect(isDrError(error, "CONFIG_INVALID")).toBe(true);
      expect((error as DrError).message).toBe("unable to parse PostgreSQL URL 'DR_DATABASE_URL': the password has a malformed %-escape");
      expect((error as DrError).hint).toContain("%25");
      expect((error as DrError).format()).not.toContain("pa%des");
    });

    it("an identity file open to other users is used with a warning", async () => {
      const file = join(work, "identity-0644.txt");
      await writeFile(file, `${fx.identity}\n`, { mode: 0o644 });
      const warnings: string[] = [];
      expect(await readIdentityFile(file, (line) => warnings.push(line))).toEqual([fx.identity]);
      expect(warnings).toEqual([`age identity file '${file}' is open to other users (mode 0644); whoever can read it can decrypt every backup: run 'chmod 600 ${file}'`]);
      const tight = join(work, "identity-0600.txt");
      await writeFile(tight, `${fx.identity}\n`, { mode: 0o600 });
      const none: string[] = [];
      await readIdentityFile(tight, (line) => none.push(line));
      expect(none).toEqual([]);
    });
  });
});
