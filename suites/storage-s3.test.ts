import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import type { FauxqsServer } from "fauxqs";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DrError } from "../src/errors/index.ts";
import { describeStorageConformance } from "../src/storage/conformance.ts";
import { S3Storage, createStorage } from "../src/storage/index.ts";
import type { S3StorageOptions } from "../src/storage/index.ts";
import type { S3Endpoint } from "../src/targets/target.ts";

// A real S3 API (fauxqs, in-process) on 127.0.0.1. fauxqs caps a request body at 11 MiB,
// which is why the driver uploads in 8 MiB parts.
const MIB = 1024 * 1024;
const BUCKET = "dr-drill-storage";
const SECRET = "fauxqs-secret-not-to-leak";

let server: FauxqsServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "dr-fauxqs-"));
  server = await startFauxqs({ port: 0, logger: false, host: "127.0.0.1", s3StorageDir: dataDir });
  using storage = createStorage(createEndpoint());
  await storage.createBucket();
});

afterAll(async () => {
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** An endpoint on the fauxqs server, with test overrides. */
function createEndpoint(overrides: Partial<S3Endpoint> = {}): S3Endpoint {
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    region: "us-east-1",
    bucket: BUCKET,
    prefix: "",
    credentials: { accessKeyId: "test", secretAccessKey: SECRET },
    forcePathStyle: true,
    capabilities: {},
    ...overrides,
  };
}

/**
 * Multipart uploads open under the storage's bucket and prefix. ListMultipartUploads is
 * asked first (what real S3 answers), but fauxqs routes `GET /bucket?uploads` to
 * ListObjects and the SDK reads that as "no uploads", so fauxqs's own record on disk
 * (`<s3StorageDir>/_multipart/<id>/.upload.json`) is counted too.
 */
async function countPendingUploads(storage: S3Storage): Promise<number> {
  const listed = await storage.countPendingUploads();
  const folder = join(dataDir, "_multipart");
  if (!existsSync(folder)) return listed;
  let onDisk = 0;
  for (const uploadId of await readdir(folder)) {
    const metaPath = join(folder, uploadId, ".upload.json");
    if (!existsSync(metaPath)) continue;
    const meta = JSON.parse(await readFile(metaPath, "utf8")) as { bucket?: string; key?: string };
    if (meta.bucket === storage.endpoint.bucket && meta.key?.startsWith(storage.endpoint.prefix)) onDisk += 1;
  }
  return Math.max(listed, onDisk);
}

/** A storage under a fresh prefix, so tests never see each other's objects. */
function createIsolatedStorage(options: S3StorageOptions = {}): S3Storage {
  return new S3Storage(createEndpoint({ prefix: `t-${randomUUID()}/` }), options);
}

/** Remove everything under the storage's prefix and close its client. */
async function removeAll(storage: S3Storage): Promise<void> {
  const keys: string[] = [];
  for await (const object of storage.list("")) keys.push(object.key);
  await storage.deleteMany(keys);
  storage[Symbol.dispose]();
}

/** Count the requests the client sends that match, by HTTP method and query. */
function countRequests(storage: S3Storage, matches: (method: string, query: Record<string, unknown>) => boolean): { count: number } {
  const counter = { count: 0 };
  storage.client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method?: string; query?: Record<string, unknown> };
      if (matches(request.method ?? "", request.query ?? {})) counter.count += 1;
      return next(args);
    },
    { step: "finalizeRequest", name: `count-${randomUUID()}` },
  );
  return counter;
}

/** A port on 127.0.0.1 that nothing listens on. */
async function findClosedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Random bytes as a stream of 64 KiB chunks (length unknown to the reader), and their SHA-256. */
function createRandomStream(size: number): { stream: Readable; sha256: string } {
  const bytes = randomBytes(size);
  const chunks = Array.from({ length: Math.ceil(size / (64 * 1024)) }, (_, i) => bytes.subarray(i * 64 * 1024, (i + 1) * 64 * 1024));
  return { stream: Readable.from(chunks), sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** The objects' data files (fauxqs's `*.data` under dataDir) this process holds open. */
async function openObjectFiles(): Promise<string[]> {
  const targets = await Promise.all((await readdir("/proc/self/fd")).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")));
  return targets.filter((target) => target.startsWith(dataDir) && /\.data( \(deleted\))?$/.test(target));
}

/** Poll until `done` (the server closes a file just after the client read its last byte). */
async function waitFor(done: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`still not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** SHA-256 and length of everything a stream yields. */
async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { sha256: hash.digest("hex"), size };
}

describeStorageConformance(
  "s3 (fauxqs)",
  async () => {
    // Small pages and batches so listing and deleteMany cross their boundaries.
    const storage = createIsolatedStorage({ pageSize: 5, deleteBatchSize: 4 });
    return { storage, pendingUploads: () => countPendingUploads(storage), cleanup: () => removeAll(storage) };
  },
  // More than two 8 MiB parts are read before a failure or abort, so it hits an open multipart upload.
  { bytesBeforeInterruption: 20 * MIB, listCount: 12, deleteCount: 9 },
);

describe("S3Storage on fauxqs", () => {
  it("says a missing bucket is missing, with a hint", async () => {
    using storage = new S3Storage(createEndpoint({ bucket: "no-such-bucket" }));
    const error = await storage.check().then(() => undefined, (thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).code).toBe("BUCKET_MISSING");
    expect((error as DrError).message).toBe("unable to open bucket 'no-such-bucket': it does not exist");
    expect((error as DrError).hint).toMatch(/create it, or check DR_S3_BUCKET/);
  });

  it("names an unreachable endpoint, without credentials, after bounded retries", async () => {
    const port = await findClosedPort();
    using storage = new S3Storage(createEndpoint({ endpoint: `http://127.0.0.1:${port}` }), { maxAttempts: 2 });
    const started = Date.now();
    const error = await storage.check().then(() => undefined, (thrown: unknown) => thrown);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).code).toBe("STORAGE_FAILED");
    expect((error as DrError).message).toMatch(
      new RegExp(`^unable to open bucket '${BUCKET}': cannot reach S3 endpoint http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
    expect((error as DrError).format()).not.toContain(SECRET);
    expect((error as DrError).hint).toMatch(/DR_S3_ENDPOINT/);
  });

  it("gives up on a server that accepts connections but never answers", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const port = address !== null && typeof address === "object" ? address.port : 0;
    try {
      using storage = new S3Storage(createEndpoint({ endpoint: `http://127.0.0.1:${port}` }), { maxAttempts: 2, requestTimeoutMs: 300 });
      const started = Date.now();
      const error = await storage.check().then(() => undefined, (thrown: unknown) => thrown);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((error as DrError).code).toBe("STORAGE_FAILED");
      expect((error as DrError).message).toMatch(new RegExp(`^unable to open bucket '${BUCKET}': cannot reach S3 endpoint http://127\\.0\\.0\\.1:${port}: .*300 ms`));
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it("says which bucket is missing when a put fails for that reason", async () => {
    using storage = new S3Storage(createEndpoint({ bucket: "no-such-bucket", prefix: "p/" }));
    const error = await storage.put("x", "data").then(() => undefined, (thrown: unknown) => thrown);
    expect((error as DrError).code).toBe("STORAGE_FAILED");
    expect((error as DrError).message).toBe("unable to put object 's3://no-such-bucket/p/x': bucket 'no-such-bucket' does not exist");
  });

  it("finds neither versioning nor Object Lock on fauxqs", async () => {
    using storage = createStorage(createEndpoint());
    await expect(storage.probeCapabilities()).resolves.toMatchObject({ versioning: false, objectLock: false, multipart: true });
    // The reasons are the bucket's own answers, for the report's "not verified" lines.
    expect(storage.capabilities.reasons?.versioning).toMatch(/GetBucketVersioning/);
    expect(storage.capabilities.reasons?.objectLock).toMatch(/GetObjectLockConfiguration/);
    expect(storage.capabilities).toMatchObject({ versioning: false, objectLock: false, multipart: true });
  });

  it("creates a bucket idempotently", async () => {
    using storage = createStorage(createEndpoint({ bucket: `created-${randomUUID().slice(0, 8)}` }));
    await expect(storage.check()).rejects.toMatchObject({ code: "BUCKET_MISSING" });
    await storage.createBucket();
    await storage.createBucket();
    await expect(storage.check()).resolves.toBeUndefined();
  });

  it("streams a 25 MiB object of unknown length up in 8 MiB parts, byte for byte", async () => {
    const storage = createIsolatedStorage();
    const parts = countRequests(storage, (method, query) => method === "PUT" && "partNumber" in query);
    try {
      const source = createRandomStream(25 * MIB + 17);
      await expect(storage.put("big.bin", source.stream)).resolves.toEqual({ size: 25 * MIB + 17 });
      expect(parts.count).toBe(4);
      const head = await storage.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${storage.endpoint.prefix}big.bin` }));
      expect(head.ETag).toMatch(/-4"$/);
      await expect(hashStream(await storage.get("big.bin"))).resolves.toEqual({ sha256: source.sha256, size: 25 * MIB + 17 });
      expect(await countPendingUploads(storage)).toBe(0);
    } finally {
      await removeAll(storage);
    }
  });

  it("the native S3 streams a GET from the object's file, and an object replaced meanwhile arrives whole in its old version (patches/fauxqs)", async () => {
    const storage = createIsolatedStorage();
    try {
      const size = 48 * MIB + 5;
      const first = createRandomStream(size);
      await storage.put("streamed.bin", first.stream);
      // Unpatched, fauxqs read the whole object into one new Buffer (and closed its file) before
      // its first byte, a second for a 346 MB base backup; streamed, the server (in this
      // process) holds the object's file open while it sends, and closes it at the end.
      const body = await storage.get("streamed.bin");
      const reader = body[Symbol.asyncIterator]();
      const head = await reader.next();
      expect(head.done).toBe(false);
      expect(await openObjectFiles()).toHaveLength(1);
      // Replaced while the GET is open: the GET keeps the version it started with (as on S3).
      const second = randomBytes(size);
      await storage.put("streamed.bin", Readable.from([second.subarray(0, size >> 1), second.subarray(size >> 1)]));
      const hash = createHash("sha256").update(head.value as Buffer);
      let read = (head.value as Buffer).byteLength;
      for (let next = await reader.next(); !next.done; next = await reader.next()) {
        hash.update(next.value as Buffer);
        read += (next.value as Buffer).byteLength;
      }
      expect({ sha256: hash.digest("hex"), size: read }).toEqual({ sha256: first.sha256, size });
      await waitFor(async () => (await openObjectFiles()).length === 0);
      await expect(hashStream(await storage.get("streamed.bin"))).resolves.toEqual({ sha256: createHash("sha256").update(second).digest("hex"), size });
      // A range is streamed from the file as well.
      const ranged = await storage.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${storage.endpoint.prefix}streamed.bin`, Range: `bytes=${size - 1000}-${size - 1}` }));
      expect(ranged.ContentRange).toBe(`bytes ${size - 1000}-${size - 1}/${size}`);
      expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(second.subarray(size - 1000))).toBe(true);
    } finally {
      await removeAll(storage);
    }
  });

  it("stores a small stream in one request, byte for byte", async () => {
    const storage = createIsolatedStorage();
    const parts = countRequests(storage, (method, query) => method === "PUT" && "partNumber" in query);
    try {
      const source = createRandomStream(100_000);
      await expect(storage.put("small.bin", source.stream)).resolves.toEqual({ size: 100_000 });
      expect(parts.count).toBe(0);
      await expect(hashStream(await storage.get("small.bin"))).resolves.toEqual({ sha256: source.sha256, size: 100_000 });
    } finally {
      await removeAll(storage);
    }
  });

  it("sends a caller's SHA-256 as the signed payload hash of a buffer put", async () => {
    const storage = createIsolatedStorage({ directPut: false }); // the SDK path: the direct put has its own suite
    const sent: (string | undefined)[] = [];
    storage.client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { method?: string; headers?: Record<string, string> };
        if (request.method === "PUT") sent.push(request.headers?.["x-amz-content-sha256"]);
        return next(args);
      },
      { step: "deserialize", name: `capture-${randomUUID()}` },
    );
    try {
      const body = randomBytes(50_000);
      const sha256 = createHash("sha256").update(body).digest("hex");
      await storage.put("unhashed.bin", body);
      // fauxqs does not check the payload hash (RGW and AWS do: containers-target.test.ts), so
      // a stand-in value shows it is the caller's hash that is sent, not one the SDK computed.
      const standIn = "ab".repeat(32);
      await storage.put("hashed.bin", body, { sha256: standIn });
      expect(sent).toEqual([sha256, standIn]);
      await expect(hashStream(await storage.get("hashed.bin"))).resolves.toEqual({ sha256, size: 50_000 });
      await expect(storage.put("bad.bin", body, { sha256: "not-hex" })).rejects.toThrow(/sha256 must be 64 lower-case hex digits/);
      expect(await storage.stat("bad.bin")).toBeUndefined();
    } finally {
      await removeAll(storage);
    }
  });

  it("reports a corrupted object as INTEGRITY_FAILED while streaming it (CRC32 check)", async () => {
    const storage = createIsolatedStorage();
    try {
      await storage.put("corrupt.bin", randomBytes(4096));
      const dataFile = join(dataDir, "buckets", BUCKET, "objects", `${storage.endpoint.prefix}corrupt.bin.data`);
      const stored = await readFile(dataFile);
      stored[100] = (stored[100] ?? 0) ^ 0xff;
      await writeFile(dataFile, stored);
      const error = await hashStream(await storage.get("corrupt.bin")).then(() => undefined, (thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(DrError);
      expect((error as DrError).code).toBe("INTEGRITY_FAILED");
      expect((error as DrError).message).toMatch(new RegExp(`^unable to get object '${storage.location}corrupt.bin': Checksum mismatch`));
    } finally {
      await removeAll(storage);
    }
  });

  it("lists in pages of pageSize", async () => {
    const storage = createIsolatedStorage({ pageSize: 5 });
    const listings = countRequests(storage, (method, query) => method === "GET" && query["list-type"] === "2");
    try {
      for (let i = 0; i < 12; i++) await storage.put(`k${String(i).padStart(2, "0")}`, "x");
      const keys: string[] = [];
      for await (const object of storage.list("")) keys.push(object.key);
      expect(keys).toEqual(Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, "0")}`));
      expect(listings.count).toBe(3);
    } finally {
      await removeAll(storage);
    }
  });

  it("deletes 1005 objects in DeleteObjects batches of at most 1000", async () => {
    const storage = createIsolatedStorage();
    const batches = countRequests(storage, (method, query) => method === "POST" && "delete" in query);
    try {
      const keys = Array.from({ length: 1005 }, (_, i) => `many/${i}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => storage.put(key, "x")));
      await storage.deleteMany(keys);
      expect(batches.count).toBe(2);
      const left: string[] = [];
      for await (const object of storage.list("many/")) left.push(object.key);
      expect(left).toEqual([]);
    } finally {
      await removeAll(storage);
    }
  });

  it("can see an open multipart upload (so the conformance checks for leftovers can fail)", async () => {
    using storage = createIsolatedStorage();
    const key = `${storage.endpoint.prefix}dangling`;
    const { UploadId } = await storage.client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    expect(await countPendingUploads(storage)).toBe(1);
    await storage.client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId }));
    expect(await countPendingUploads(storage)).toBe(0);
  });
});
