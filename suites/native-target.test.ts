import { execa } from "execa";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { connectPostgres, connectRedis } from "../src/clients/index.ts";
import { pendingCleanups } from "../src/lifecycle/index.ts";
import { startNativeTarget } from "../src/targets/index.ts";
import { leftovers } from "./helpers/process-alive.ts";
import { isDrError } from "../src/errors/index.ts";
import { seedPostgresInChild } from "../fixtures/seed-source.ts";

describe("native target", () => {
  // No time bound here: how fast it starts is the benchmarks' business, and a loaded machine made a 5 s bound fail once.
  it("starts real PostgreSQL, Redis and S3, and leaves nothing behind", async () => {
    const target = await startNativeTarget();
    const pids = target.pids();
    const dirs = target.dirs();
    try {
      expect(pids).toHaveLength(3);

      const pg = await connectPostgres(target.postgres);
      const { rows } = await pg.query<{ answer: number; db: string }>("select 6 * 7 as answer, current_database() as db");
      await pg.end();
      expect(rows[0]).toEqual({ answer: 42, db: "deltacrown" });

      const redis = await connectRedis(target.redis);
      expect(await redis.ping()).toBe("PONG");
      redis.disconnect();

      const s3 = new S3Client({
        endpoint: target.s3.endpoint,
        region: target.s3.region,
        credentials: target.s3.credentials,
        forcePathStyle: true,
      });
      const body = `hello ${Date.now()}`;
      await s3.send(new PutObjectCommand({ Bucket: target.s3.bucket, Key: "probe.txt", Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: target.s3.bucket, Key: "probe.txt" }));
      expect(await got.Body?.transformToString()).toBe(body);
      s3.destroy();

      // Servers bind loopback only (fauxqs excepted: it takes no listen address).
      expect(target.postgres.host).toBe("127.0.0.1");
      expect(target.redis.host).toBe("127.0.0.1");
    } finally {
      await target.stop();
    }
    expect(leftovers(pids, dirs)).toEqual({ pids: [], dirs: [] });
    expect(pendingCleanups()).toBe(0);
  });

  it("seeds PostgreSQL in a child process: rows and size come back, progress arrives, and a refusal keeps its message and hint", async () => {
    const target = await startNativeTarget();
    try {
      const progress: number[] = [];
      const seeded = await seedPostgresInChild(target.postgres, { targetBytes: 30e6, seed: 3, onProgress: (b) => progress.push(b) });
      const pg = await connectPostgres(target.postgres);
      const { rows } = await pg.query<{ users: string; size: string }>("SELECT (SELECT count(*) FROM accounts_user) AS users, pg_database_size(current_database()) AS size");
      await pg.end();
      expect(seeded.tables.accounts_user).toBe(Number(rows[0]!.users));
      expect(seeded.databaseBytes).toBe(Number(rows[0]!.size));
      expect(progress.length).toBeGreaterThan(0);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      const again = await seedPostgresInChild(target.postgres, { targetBytes: 30e6, seed: 3 }).catch((error: unknown) => error);
      expect(isDrError(again, "COMMAND_FAILED")).toBe(true);
      expect((again as Error).message).toContain("tables already exist");
      expect((again as { hint?: string }).hint).toContain("seed an empty database");
    } finally {
      await target.stop();
    }
  });

  it("stops every server and removes every folder on SIGTERM", async () => {
    const script = fileURLToPath(new URL("./helpers/start-target-child.ts", import.meta.url));
    const child = execa(process.execPath, [script], { reject: false });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => resolve(chunk.toString().trim().split("\n")[0]!));
      void child.then((r) => reject(new Error(`child exited early: ${r.stderr}`)));
    });
    const { pids, dirs } = JSON.parse(line) as { pids: number[]; dirs: string[] };
    expect(pids).toHaveLength(3);
    child.kill("SIGTERM");
    const result = await child;
    expect(result.exitCode).toBe(143);
    // Give the kernel a moment to reap the children.
    for (let i = 0; i < 20 && leftovers(pids, dirs).pids.length; i++) await sleep(100);
    expect(leftovers(pids, dirs)).toEqual({ pids: [], dirs: [] });
  });

  it("starts a scratch PostgreSQL and stops it with the target", async () => {
    const target = await startNativeTarget();
    const scratch = await target.startScratchPostgres();
    const scratchPid = scratch.pid!;
    expect(target.pids()).toContain(scratchPid);
    expect(scratch.endpoint.port).not.toBe(target.postgres.port);
    const pids = target.pids();
    const dirs = target.dirs();
    await target.stop();
    expect(leftovers(pids, dirs)).toEqual({ pids: [], dirs: [] });
  });
});
