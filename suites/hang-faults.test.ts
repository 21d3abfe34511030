// Servers that stop answering, processes killed mid-upload, cron runs that overlap: each
// fails within a bound, says so, and leaves nothing behind (issue 13: items 1, 2, 8, 10, 16).
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { connectPostgres, connectRedis, parseRedisUrl } from "../src/clients/index.ts";
import { backupPostgres, backupRedis, type BackupContext } from "../src/components/index.ts";
import { parseKeyspace } from "../src/clients/redis-info.ts";
import { listCompleteBackups } from "../src/manifest/index.ts";
import { MemoryStorage, S3Storage, type Storage } from "../src/storage/index.ts";
import { findFreePort } from "../src/lifecycle/index.ts";
import { startNativeS3 } from "../src/targets/index.ts";
import type { RedisEndpoint, S3Endpoint } from "../src/targets/index.ts";
import { listKeys, startNativeFixture, type NativeFixture } from "./helpers/native-fixture.ts";
import { drErrorOf } from "../src/errors/dr-error-of.ts";
import type { DrError } from "../src/errors/index.ts";

const MIB = 1024 * 1024;
const ROOT = fileURLToPath(new URL("..", import.meta.url));


/**
 * A TCP server on 127.0.0.1 that accepts connections and then answers nothing: with
 * `handshake`, it answers the connection's own commands (AUTH, the ready check's INFO,
 * CLIENT, PING) like Redis and goes silent from the first real command on.
 */
async function startSilentRedis(handshake: boolean): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let buffered = "";
    let pinged = false;
    socket.on("data", (data) => {
      if (!handshake || pinged) return;
      buffered += data.toString("latin1");
      for (const command of takeCommands(buffered)) {
        buffered = command.rest;
        const name = command.args[0]?.toUpperCase();
        // An old server: no HELLO, so the client falls back to RESP2 and AUTH.
        if (name === "HELLO") socket.write("-ERR unknown command 'HELLO'\r\n");
        else if (name === "AUTH" || name === "CLIENT" || name === "SELECT") socket.write("+OK\r\n");
        else if (name === "INFO") socket.write(bulk("# Server\r\nredis_version:7.0.0\r\nloading:0\r\n"));
        else if (name === "PING") {
          socket.write("+PONG\r\n");
          pinged = true;
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** RESP bulk string. */
function bulk(text: string): string {
  return `$${Buffer.byteLength(text, "latin1")}\r\n${text}\r\n`;
}

/** Whole RESP command arrays at the front of `text`, each with what is left after it. */
function* takeCommands(text: string): Generator<{ args: string[]; rest: string }> {
  let rest = text;
  for (;;) {
    const header = /^\*(\d+)\r\n/.exec(rest);
    if (!header) return;
    let at = header[0].length;
    const args: string[] = [];
    for (let i = 0; i < Number(header[1]); i++) {
      const length = /^\$(\d+)\r\n/.exec(rest.slice(at));
      if (!length) return;
      at += length[0].length;
      if (rest.length < at + Number(length[1]) + 2) return;
      args.push(rest.slice(at, at + Number(length[1])));
      at += Number(length[1]) + 2;
    }
    rest = rest.slice(at);
    yield { args, rest };
  }
}

/** Every key a storage holds. */
async function keysOf(storage: Storage): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list("")) keys.push(object.key);
  return keys;
}

/** A backup context for Redis only, storing into memory. */
function redisOnlyContext(redis: RedisEndpoint, fx: NativeFixture, storage = new MemoryStorage()): BackupContext {
  return { ...fx.ctx({ storage, redis }), recipients: [] };
}

/** Child processes of this process running `name` (pid list). */
async function childrenNamed(name: string): Promise<number[]> {
  const { stdout } = await execa("ps", ["-eo", "pid=,ppid=,comm="]);
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, comm]) => Number(ppid) === process.pid && comm === name)
    .map(([pid]) => Number(pid));
}

/**
 * Start the upload child against `endpoint` and wait until `bytes` have been read into its
 * multipart upload and `exists()` sees the upload on the endpoint.
 */
async function startUploadChild(endpoint: S3Endpoint, key: string, bytes: number, exists: () => Promise<boolean>) {
  const script = fileURLToPath(new URL("./helpers/upload-child.ts", import.meta.url));
  const child = execa(process.execPath, [script], { reject: false, env: { DR_TEST_S3_ENDPOINT: JSON.stringify(endpoint), DR_TEST_KEY: key } });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().trim().split("\n").some((line) => Number(line) >= bytes)) resolve();
    });
    void child.then((r) => reject(new Error(`upload child exited early: ${r.stderr}`)));
  });
  for (let i = 0; i < 50 && !(await exists()); i++) await sleep(100);
  expect(await exists()).toBe(true);
  // Wrapped: an async function returning the subprocess (a thenable) would wait for its exit.
  return { child };
}

/**
 * Open multipart uploads as the native endpoint (fauxqs) records them on disk
 * (`_multipart/<id>/.upload.json`): the ground truth there, since fauxqs does not
 * implement ListMultipartUploads.
 */
async function uploadsOnDiskOf(s3Dir: string): Promise<string[]> {
  const folder = join(s3Dir, "objects", "_multipart");
  const keys: string[] = [];
  for (const id of await readdir(folder).catch(() => [] as string[])) {
    const meta = await readFile(join(folder, id, ".upload.json"), "utf8").catch(() => undefined);
    if (meta) keys.push((JSON.parse(meta) as { key: string }).key);
  }
  return keys;
}

let fx: NativeFixture;

describe("hang faults", () => {
  beforeAll(async () => {
    fx = await startNativeFixture(40e6);
  }, 180_000);
  afterAll(async () => {
    await fx?.stop();
  });

  describe("Redis that accepts the connection and never answers (item 1)", () => {
    it("fails the backup within the command timeout, naming the server, storing nothing", async () => {
      const silent = await startSilentRedis(false);
      try {
        const storage = new MemoryStorage();
        const started = performance.now();
        const error = await drErrorOf(backupRedis(redisOnlyContext({ host: "127.0.0.1", port: silent.port, password: "pw", localDataDir: undefined }, fx, storage), { commandTimeoutMs: 1_000 }));
        const elapsed = performance.now() - started;
        expect(silent.connections()).toBeGreaterThan(0);
        expect(error.code).toBe("TARGET_UNREACHABLE");
        expect(error.message).toMatch(new RegExp(`^unable to connect to Redis 'redis://127\\.0\\.0\\.1:${silent.port}': no answer within 1 s \\(the server accepted the connection but does not reply\\)`));
        expect(elapsed).toBeLessThan(8_000);
        expect(await keysOf(storage)).toEqual([]);
      } finally {
        await silent.close();
      }
    });

    it("fails a backup whose server goes silent after the handshake (every command bounded, not just the connect)", async () => {
      const silent = await startSilentRedis(true);
      try {
        const storage = new MemoryStorage();
        const started = performance.now();
        const error = await drErrorOf(backupRedis(redisOnlyContext({ host: "127.0.0.1", port: silent.port, password: "pw", localDataDir: undefined }, fx, storage), { commandTimeoutMs: 1_000 }));
        expect(error.code).toBe("BACKUP_FAILED");
        expect(error.message).toMatch(new RegExp(`^unable to back up Redis 'redis://127\\.0\\.0\\.1:${silent.port}': no answer within 1 s`));
        expect(performance.now() - started).toBeLessThan(8_000);
        expect(await keysOf(storage)).toEqual([]);
      } finally {
        await silent.close();
      }
    });

    it("bounds the connection by default too (30 s), as the CLI uses it", async () => {
      const silent = await startSilentRedis(false);
      // The clock is faked (only timers: the socket and the silent server are real), so the
      // 30 s default is shown to fire at 30 s, not before, without waiting it out.
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      try {
        let settled: DrError | undefined;
        const pending = drErrorOf(connectRedis({ host: "127.0.0.1", port: silent.port, password: undefined, localDataDir: undefined }, "DR_REDIS_URL")).then((error) => (settled = error));
        // Real I/O until the client is connected and waiting for its answer.
        for (let i = 0; i < 5_000 && silent.connections() === 0; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(silent.connections()).toBeGreaterThan(0);
        await vi.advanceTimersByTimeAsync(29_000);
        expect(settled, "failed before the 30 s default bound").toBeUndefined();
        await vi.advanceTimersByTimeAsync(1_500);
        const error = await pending;
        expect(error.message).toContain("no answer within 30 s");
        expect(error.hint).toContain("DR_REDIS_URL");
      } finally {
        vi.useRealTimers();
        await silent.close();
      }
    });
  });

  describe("cron wrappers on an overlap (item 1)", () => {
    /** Run a wrapper with the lock held by another process; the lock file's time set to `ageS` seconds ago. */
    async function runWhileLocked(script: string, component: string, ageS: number, env: Record<string, string> = {}) {
      const lockDir = await mkdtemp(join(tmpdir(), "dr-drill-cron-"));
      const lockFile = join(lockDir, `dr-drill-backup-${component}.lock`);
      await writeFile(lockFile, "pid 4242, started earlier\n");
      const holder = execa("flock", [lockFile, "sleep", "60"], { reject: false, stdio: "ignore" });
      try {
        // Wait until the holder has the lock (flock -n fails while it does).
        for (let i = 0; i < 50; i++) {
          const probe = await execa("flock", ["-n", lockFile, "true"], { reject: false });
          if (probe.exitCode !== 0) break;
          await sleep(50);
        }
        const then = new Date(Date.now() - ageS * 1000);
        await utimes(lockFile, then, then);
        return await execa("bash", [join(ROOT, "scripts", script)], { reject: false, env: { DR_LOCK_DIR: lockDir, ...env } });
      } finally {
        holder.kill("SIGKILL");
        await holder;
        await rm(lockDir, { recursive: true, force: true });
      }
    }

    it("skips (exit 0, logged) while the running backup is younger than the bound", async () => {
      const result = await runWhileLocked("backup_redis.sh", "redis", 600);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/\[redis\] previous redis backup still running \(for 6\d\ds, pid 4242, started earlier\); skipping this run$/);
    });

    it("exits 1 with an ERROR naming the holder once the lock is older than the bound (1 h for redis, 2 h for postgres)", async () => {
      const redis = await runWhileLocked("backup_redis.sh", "redis", 3_700);
      expect(redis.exitCode).toBe(1);
      expect(redis.stderr).toMatch(/\[redis\] ERROR: the previous redis backup has held \S+dr-drill-backup-redis\.lock for 37\d\ds, more than 3600s \(DR_LOCK_STALE_AFTER\): pid 4242, started earlier; it is hung/);
      // 1 h 2 min is still young for the hourly PostgreSQL backup (2 h bound)...
      expect((await runWhileLocked("backup_postgres.sh", "postgres", 3_700)).exitCode).toBe(0);
      // ...and the bound is the operator's to set.
      const tight = await runWhileLocked("backup_postgres.sh", "postgres", 3_700, { DR_LOCK_STALE_AFTER: "30m" });
      expect(tight.exitCode).toBe(1);
      expect(tight.stderr).toContain("more than 1800s (DR_LOCK_STALE_AFTER)");
      const media = await runWhileLocked("sync_media_to_s3.sh", "media", 7 * 3_600);
      expect(media.exitCode).toBe(1);
      expect(media.stderr).toContain("more than 21600s");
    });
  });

  describe("Redis ACL users (item 16)", () => {
    const password = "p%de@ss:w0rd/x";
    let url: string;
    beforeAll(async () => {
      const admin = await connectRedis(fx.target.redis);
      try {
        await admin.call("ACL", "SETUSER", "drbackup", "on", `>${password}`, "~*", "&*", "+@all");
      } finally {
        admin.disconnect();
      }
      url = `redis://drbackup:${encodeURIComponent(password)}@127.0.0.1:${fx.target.redis.port}/0`;
    });

    it("parses the user from the URL and backs up as that user, with BGSAVE and with redis-cli --rdb", async () => {
      const endpoint = parseRedisUrl(url, "DR_REDIS_URL");
      expect(endpoint).toMatchObject({ username: "drbackup", password });
      const source = await connectRedis(fx.target.redis);
      const { keys: before, expires } = parseKeyspace(await source.info("keyspace"));
      source.disconnect();
      const keys = before.db0!;
      expect(keys).toBeGreaterThan(100);
      for (const localDataDir of [fx.target.redis.localDataDir, undefined]) {
        const storage = new MemoryStorage();
        const manifest = await backupRedis(redisOnlyContext({ ...endpoint, localDataDir }, fx, storage));
        expect(manifest.redis!.method).toBe(localDataDir ? "bgsave" : "redis-cli --rdb");
        // The fixture's keys with a TTL may expire meanwhile; no other key comes or goes.
        expect(manifest.redis!.keys.db0).toBeLessThanOrEqual(keys);
        expect(manifest.redis!.keys.db0).toBeGreaterThanOrEqual(keys - expires.db0!);
        expect(manifest.source).toBe(`redis://drbackup@127.0.0.1:${fx.target.redis.port}`);
        expect(manifest.parts[0]!.size).toBeGreaterThan(1_000);
      }
    });

    it("the same password without the user name is refused by the server (the user is what makes it work)", async () => {
      const { username: _dropped, ...endpoint } = parseRedisUrl(url, "DR_REDIS_URL");
      const error = await drErrorOf(backupRedis(redisOnlyContext(endpoint, fx)));
      expect(error.code).toBe("TARGET_UNREACHABLE");
      expect(error.message).toMatch(/WRONGPASS/);
      expect(error.message).not.toContain(password);
    });
  });

  describe("PostgreSQL server version and the pg_dump version check (item 10)", () => {
    it("records the server's real version in the manifest", async () => {
      const client = await connectPostgres(fx.target.postgres);
      const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      await client.end();
      const manifest = await backupPostgres(fx.ctx());
      expect(manifest.postgres!.serverVersion).toMatch(/^\d+\.\d+$/);
      expect(manifest.postgres!.serverVersion).toBe(rows[0]!.v.split(" ")[0]);
      expect(manifest.parts[0]!.size).toBeGreaterThan(MIB);
    });

    it("refuses a pg_dump older than the server with VERSION_MISMATCH naming both versions, storing nothing", async () => {
      const before = await listKeys(fx.storage);
      const manifest = (await listCompleteBackups(fx.storage, "postgres")).at(-1)!;
      const server = manifest.postgres!.serverVersion;
      const older = `${Number.parseInt(server, 10) - 1}.9`;
      const error = await drErrorOf(backupPostgres(fx.ctx(), { dumpVersion: older }));
      expect(error.code).toBe("VERSION_MISMATCH");
      expect(error.message).toBe(`unable to run pg_dump ${older} against PostgreSQL ${server}: pg_dump must be at least the server's major version (${Number.parseInt(server, 10)})`);
      expect(error.hint).toContain(`postgresql-client-${Number.parseInt(server, 10)}`);
      expect(await listKeys(fx.storage)).toEqual(before);
    });
  });

  describe("S3 endpoint frozen mid-backup (item 2)", () => {
    it("aborts after the stall bound, frees the source at once (no snapshot session, no pg_dump), stores no manifest", async () => {
      const s3 = await startNativeS3("frozen-bucket");
      const storage = new S3Storage(s3.endpoint, { partSize: 5 * MIB, queueSize: 1 });
      const stallMs = 2_000;
      let frozenAt: number | undefined;
      let sessionsGoneAt: number | undefined;
      let settledAt: number | undefined;
      const observer = await connectPostgres(fx.target.postgres);
      try {
        const running = backupPostgres(
          fx.ctx({
            storage,
            // Uncompressed, the dump (~40 MB) is far more than the upload buffers: pg_dump is blocked on its pipe when the endpoint freezes.
            config: { ...fx.config, postgres: { ...fx.config.postgres, compressionLevel: 0 } },
            onProgress: (_step, bytes) => {
              // Freeze once the multipart upload is under way (part 2 being read).
              if (frozenAt === undefined && bytes > 6 * MIB) {
                process.kill(s3.pid, "SIGSTOP");
                frozenAt = performance.now();
              }
            },
          }),
          { stallTimeoutMs: stallMs },
        ).finally(() => {
          settledAt = performance.now();
        });
        // Watch the source while the backup fails: when do its sessions end?
        const watch = (async () => {
          while (settledAt === undefined || sessionsGoneAt === undefined) {
            const { rows } = await observer.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'dr-drill' AND pid <> pg_backend_pid()");
            if (frozenAt !== undefined && sessionsGoneAt === undefined && Number(rows[0]!.n) === 0) sessionsGoneAt = performance.now();
            if (settledAt !== undefined && sessionsGoneAt === undefined && performance.now() - settledAt > 5_000) return;
            await sleep(100);
          }
        })();
        const error = await drErrorOf(running);
        await watch;
        expect(frozenAt).toBeDefined();
        const failedAfter = settledAt! - frozenAt!;
        console.log(`frozen endpoint: backup failed ${Math.round(failedAfter)} ms after SIGSTOP; source sessions gone ${Math.round(sessionsGoneAt! - frozenAt!)} ms after it`);
        expect(error.code).toBe("BACKUP_FAILED");
        expect(error.message).toMatch(/^unable to back up database 'postgres:\/\/[^']+': upload to 's3:\/\/frozen-bucket\/postgres\/[^']+\.dump\.age': no progress for 2 s \(no byte reached storage and no part completed\); the upload was aborted, pg_dump stopped and the snapshot transaction rolled back$/);
        expect(error.hint).toContain("S3 endpoint");
        expect(failedAfter).toBeLessThan(20_000);
        // The snapshot session and pg_dump's backend end when the stall is seen, not when the upload settles.
        expect(sessionsGoneAt! - frozenAt!).toBeLessThan(stallMs + 4_000);
        expect(await childrenNamed("pg_dump")).toEqual([]);
      } finally {
        process.kill(s3.pid, "SIGCONT");
        await observer.end();
      }
      try {
        expect((await keysOf(storage)).filter((k) => k.startsWith("postgres/"))).toEqual([]);
        // The abort the frozen endpoint could not take is sent again by the upload once the
        // endpoint answers (lib-storage's own clean-up): nothing stays open.
        let left = await uploadsOnDiskOf(s3.dir);
        for (let i = 0; i < 100 && left.length; i++) {
          await sleep(200);
          left = await uploadsOnDiskOf(s3.dir);
        }
        expect(left).toEqual([]);
      } finally {
        storage.client.destroy();
        await s3.stop();
      }
    }, 90_000);
  });

  describe("incomplete multipart uploads on the native endpoint (item 8)", () => {
    let s3: Awaited<ReturnType<typeof startNativeS3>>;
    let storage: S3Storage;
    beforeAll(async () => {
      s3 = await startNativeS3("uploads-bucket");
      storage = new S3Storage(s3.endpoint);
    });
    afterAll(async () => {
      storage?.client.destroy();
      await s3?.stop();
    });

    const uploadsOnDisk = () => uploadsOnDiskOf(s3.dir);

    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      it(`${signal} mid-upload aborts the multipart upload before the process exits`, async () => {
        const key = `postgres/child-${signal}/deltacrown.dump`;
        const { child } = await startUploadChild(s3.endpoint, key, 12 * MIB, async () => (await uploadsOnDisk()).includes(key));
        child.kill(signal);
        const result = await child;
        expect(result.exitCode).toBe({ SIGTERM: 143, SIGINT: 130, SIGHUP: 129 }[signal]);
        expect(result.stderr).toContain(`${signal} received`);
        expect(await uploadsOnDisk()).toEqual([]);
        expect(await keysOf(storage)).toEqual([]);
      }, 60_000);
    }

    it("SIGKILL leaves an upload behind; an endpoint that cannot list uploads says so instead of answering 'none'", async () => {
      const key = "postgres/child-SIGKILL/deltacrown.dump";
      const { child } = await startUploadChild(s3.endpoint, key, 12 * MIB, async () => (await uploadsOnDisk()).includes(key));
      child.kill("SIGKILL");
      await child;
      expect(await uploadsOnDisk()).toEqual([key]);
      const error = await drErrorOf(storage.listIncompleteUploads("postgres/"));
      expect(error.code).toBe("STORAGE_UNSUPPORTED");
      expect(error.message).toMatch(/^unable to list incomplete uploads 's3:\/\/uploads-bucket\/postgres\/': the S3 endpoint http:\/\/127\.0\.0\.1:\d+ does not implement ListMultipartUploads$/);
      expect(error.hint).toContain("AbortIncompleteMultipartUpload");
      expect((await drErrorOf(storage.abortIncompleteUploads(0))).code).toBe("STORAGE_UNSUPPORTED");
    }, 60_000);
  });

  describe("incomplete multipart uploads on Ceph RGW, which lists them (item 8)", () => {
    const hasRgw = existsSync("/usr/bin/radosgw");
    if (!hasRgw && process.env.DR_REQUIRE_VERIFIED) throw new Error("radosgw is not installed and DR_REQUIRE_VERIFIED is set");
    let rgw: ReturnType<typeof execa> | undefined;
    let dataDir: string;
    let endpoint: S3Endpoint;
    let storage: S3Storage;
    beforeAll(async () => {
      if (!hasRgw) return;
      dataDir = await mkdtemp(join(tmpdir(), "dr-drill-rgw-"));
      const port = await findFreePort();
      rgw = execa("bash", [join(ROOT, "scripts", "rgw", "run-rgw.sh"), dataDir, String(port)], { reject: false });
      await new Promise<void>((resolve, reject) => {
        rgw!.stdout?.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("Ready.")) resolve();
        });
        void rgw!.then((r) => reject(new Error(`run-rgw.sh exited: ${r.stdout}\n${r.stderr}`)));
      });
      endpoint = { endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", bucket: "uploads", prefix: "", credentials: { accessKeyId: "test", secretAccessKey: "test" }, forcePathStyle: true, capabilities: {} };
      storage = new S3Storage(endpoint);
      await storage.createBucket();
    }, 180_000);
    afterAll(async () => {
      storage?.client.destroy();
      rgw?.kill("SIGTERM");
      await rgw;
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    }, 60_000);

    it.skipIf(!hasRgw)("SIGTERM mid-upload leaves no upload that ListMultipartUploads could show", async () => {
      const key = "postgres/child-SIGTERM/deltacrown.dump";
      const { child } = await startUploadChild(endpoint, key, 12 * MIB, async () => (await storage.listIncompleteUploads(key)).length > 0);
      child.kill("SIGTERM");
      expect((await child).exitCode).toBe(143);
      expect(await storage.listIncompleteUploads("")).toEqual([]);
    }, 60_000);

    it.skipIf(!hasRgw)("SIGKILL leaves an upload that listIncompleteUploads finds and abortIncompleteUploads removes once older than the bound", async () => {
      const key = "postgres/child-SIGKILL/deltacrown.dump";
      const { child } = await startUploadChild(endpoint, key, 12 * MIB, async () => (await storage.listIncompleteUploads(key)).length > 0);
      child.kill("SIGKILL");
      await child;
      const listed = await storage.listIncompleteUploads("postgres/");
      expect(listed.map((u) => u.key)).toEqual([key]);
      expect(listed[0]!.ageMs).toBeLessThan(60_000);
      expect(listed[0]!.bytes).toBeGreaterThanOrEqual(5 * MIB);
      // Younger than the bound: it could be a running backup's, so it stays.
      expect(await storage.abortIncompleteUploads(3_600_000, "postgres/")).toEqual([]);
      expect(await storage.listIncompleteUploads("postgres/")).toHaveLength(1);
      await sleep(2_100);
      const aborted = await storage.abortIncompleteUploads(1_000, "postgres/");
      expect(aborted.map((u) => u.key)).toEqual([key]);
      expect(await storage.listIncompleteUploads("")).toEqual([]);
    }, 60_000);

    it.skipIf(!hasRgw)("finds a dangling upload made with CreateMultipartUpload (key, age, bytes), only under the prefix asked", async () => {
      const bucket = endpoint.bucket;
      const key = "redis/20260101T000000Z-r/dump.rdb.age";
      const created = await storage.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const other = await storage.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "elsewhere/file" }));
      try {
        await storage.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: Buffer.alloc(5 * MIB, 1) }));
        const listed = await storage.listIncompleteUploads("redis/");
        expect(listed).toHaveLength(1);
        expect(listed[0]).toMatchObject({ key, uploadId: created.UploadId, bytes: 5 * MIB });
        expect(listed[0]!.ageMs).toBeLessThan(60_000);
        expect((await storage.listIncompleteUploads("")).map((u) => u.key).sort()).toEqual(["elsewhere/file", key]);
        const aborted = await storage.abortIncompleteUploads(0, "redis/");
        expect(aborted.map((u) => u.uploadId)).toEqual([created.UploadId]);
        expect(await storage.listIncompleteUploads("redis/")).toEqual([]);
        expect((await storage.listIncompleteUploads("")).map((u) => u.key)).toEqual(["elsewhere/file"]);
      } finally {
        await storage.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "elsewhere/file", UploadId: other.UploadId })).catch(() => undefined);
      }
    });

    it.skipIf(hasRgw)("not verified: radosgw is not installed (apt-get install radosgw ceph-mon ceph-osd ceph-common; see scripts/rgw/NOTES.md)", () => undefined);
  });
});
