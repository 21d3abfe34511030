import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import type { FauxqsServer } from "fauxqs";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, open as openFile, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findCurl, startCurlGet } from "../src/components/curl-child.ts";
import { DrError } from "../src/errors/index.ts";
import { S3Storage } from "../src/storage/index.ts";
import type { S3StorageOptions } from "../src/storage/index.ts";
import { signS3Request } from "../src/storage/s3/s3-sigv4.ts";
import type { S3Endpoint } from "../src/targets/target.ts";

// Small buffer puts with a known SHA-256 go out as one signed request beside the SDK
// (s3-direct-put.ts). A recording proxy in front of a real S3 API (fauxqs) shows what was
// sent; fauxqs shows what was stored. fauxqs checks neither signature nor payload hash
// (RGW does: containers-target.test.ts), so the signature is recomputed here from what
// went over the wire, and the algorithm itself is checked against the S3 documentation's
// examples in s3-sigv4.test.ts.
const BUCKET = "dr-drill-direct";
const SECRET = "direct-put-secret-not-to-leak";

let server: FauxqsServer;
let dataDir: string;
let proxy: Server;
let proxyPort: number;
/** What the proxy saw, in order. */
const seen: { method: string; url: string; headers: IncomingHttpHeaders; status: number }[] = [];
/** Answer with this status (and S3 error code) instead of forwarding, while the count lasts. */
let failNext: { count: number; status: number; code: string } = { count: 0, status: 0, code: "" };
/** Called with every request the proxy receives. */
let onRequest: (url: string) => void = () => undefined;
/** TCP connections the proxy accepted so far. */
let connections = 0;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "dr-direct-put-"));
  server = await startFauxqs({ port: 0, logger: false, host: "127.0.0.1", s3StorageDir: dataDir });
  proxy = createServer((incoming, outgoing) => {
    const entry = { method: incoming.method ?? "", url: incoming.url ?? "", headers: incoming.headers, status: 0 };
    seen.push(entry);
    onRequest(entry.url);
    if (failNext.count > 0) {
      failNext.count -= 1;
      const { status, code } = failNext;
      entry.status = status;
      incoming.resume();
      incoming.on("end", () => {
        outgoing.writeHead(status, { "content-type": "application/xml" });
        outgoing.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test</Message></Error>`);
      });
      return;
    }
    const forward = request({ host: "127.0.0.1", port: server.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
      entry.status = answer.statusCode ?? 0;
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    incoming.pipe(forward);
  });
  proxy.on("connection", () => (connections += 1));
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxyPort = (proxy.address() as { port: number }).port;
  using storage = new S3Storage(createEndpoint());
  await storage.createBucket();
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function createEndpoint(overrides: Partial<S3Endpoint> = {}): S3Endpoint {
  return {
    endpoint: `http://127.0.0.1:${proxyPort}`,
    region: "us-east-1",
    bucket: BUCKET,
    prefix: `t-${randomUUID()}/`,
    credentials: { accessKeyId: "direct", secretAccessKey: SECRET },
    forcePathStyle: true,
    capabilities: {},
    ...overrides,
  };
}

function sha256Of(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function crc32Base64(bytes: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(bytes));
  return out.toString("base64");
}

async function readAll(storage: S3Storage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The PUT requests the proxy saw for a key (path-style: /bucket/prefix+key). */
function putsOf(storage: S3Storage, key: string): typeof seen {
  // The SDK adds `?x-id=PutObject`; the path is what names the object.
  return seen.filter((entry) => entry.method === "PUT" && entry.url.split("?")[0] === `/${BUCKET}/${storage.endpoint.prefix}${key}`);
}

function open(options: S3StorageOptions = {}, overrides: Partial<S3Endpoint> = {}): S3Storage {
  return new S3Storage(createEndpoint(overrides), { maxAttempts: 3, ...options });
}

describe("S3Storage streamed multipart upload, on the wire", () => {
  it("sends its parts without Expect: 100-continue over kept-alive connections: not one connection per part", async () => {
    using storage = open({ queueSize: 2 });
    const body = randomBytes(6 * 8 * 1024 * 1024 - 1000);
    const before = connections;
    // A pipe's 64 KiB chunks, of unknown total length: what a backup streams.
    const chunks = Array.from({ length: Math.ceil(body.length / 65_536) }, (_, i) => body.subarray(i * 65_536, (i + 1) * 65_536));
    await expect(storage.put("postgres/b2/base.tar.zst.age", Readable.from(chunks))).resolves.toEqual({ size: body.length });
    const parts = putsOf(storage, "postgres/b2/base.tar.zst.age").filter((entry) => entry.url.includes("partNumber="));
    expect(parts.map((entry) => [entry.status, entry.headers.expect])).toEqual(Array.from({ length: 6 }, () => [200, undefined]));
    // CreateMultipartUpload, 6 parts two at a time, CompleteMultipartUpload: two connections carry them all.
    expect(connections - before).toBeLessThanOrEqual(2);
    expect((await readAll(storage, "postgres/b2/base.tar.zst.age")).equals(body)).toBe(true);
  });
});

describe("S3Storage signedGet (the request the stock curl sends for a restore)", () => {
  it("is a GET signed for exactly its headers and this secret, which curl sends as it is and gets the object's bytes", async (ctx) => {
    const curl = findCurl();
    if (!curl) return ctx.skip("curl is not installed (bash scripts/bootstrap.sh installs it)");
    using storage = open();
    const body = randomBytes(300_000);
    await storage.put("postgres/b1/base.tar.zst.age", body);
    const request = await storage.signedGet("postgres/b1/base.tar.zst.age");
    expect(request?.url).toBe(`http://127.0.0.1:${proxyPort}/${BUCKET}/${storage.endpoint.prefix}postgres/b1/base.tar.zst.age`);
    expect(JSON.stringify(request)).not.toContain(SECRET);
    const out = await mkdtemp(join(tmpdir(), "dr-signed-get-"));
    try {
      const handle = await openFile(join(out, "object"), "w");
      try {
        expect(await startCurlGet(curl, request!, handle.fd).exited).toEqual({ status: 200, bytes: body.length });
      } finally {
        await handle.close();
      }
      expect(await readFile(join(out, "object"))).toEqual(body);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    const get = seen.filter((entry) => entry.method === "GET" && entry.url === new URL(request!.url).pathname).at(-1)!;
    const authorization = String(get.headers.authorization);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)![1]!.split(";");
    expect(signedHeaders).toEqual(["host", "x-amz-content-sha256", "x-amz-date"]);
    const signed = Object.fromEntries(signedHeaders.map((name) => [name, String(get.headers[name])]));
    expect(authorization).toBe(await signS3Request({ method: "GET", path: get.url, headers: signed, payloadSha256: sha256Of(new Uint8Array()), region: "us-east-1", accessKeyId: "direct", secretAccessKey: SECRET, amzDate: String(get.headers["x-amz-date"]) }));
  });

  it("makes none for AWS's virtual-hosted addressing (the restore then downloads through the SDK)", async () => {
    using storage = open({}, { forcePathStyle: false });
    expect(await storage.signedGet("postgres/b1/base.tar.zst.age")).toBeUndefined();
  });
});

describe("S3Storage direct put (small buffer, caller's SHA-256)", () => {
  it("sends one request signed over the caller's SHA-256 with a CRC32, and stores the bytes", async () => {
    using storage = open();
    const body = randomBytes(70_000);
    const sha256 = sha256Of(body);
    await expect(storage.put("media/objects/ab/x.age", body, { sha256, contentType: "application/octet-stream", metadata: { Plain: "yes" } })).resolves.toEqual({ size: 70_000 });
    const [put, ...more] = putsOf(storage, "media/objects/ab/x.age");
    expect(more).toEqual([]);
    expect(put!.headers["amz-sdk-invocation-id"]).toBeUndefined();
    const headers = put!.headers;
    expect(headers["x-amz-content-sha256"]).toBe(sha256);
    expect(headers["x-amz-checksum-crc32"]).toBe(crc32Base64(body));
    expect(headers["content-length"]).toBe("70000");
    expect(headers["x-amz-meta-plain"]).toBe("yes");
    // The signature is what SigV4 gives for exactly these headers and this secret.
    const authorization = String(headers.authorization);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)![1]!.split(";");
    expect(signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-content-sha256", "x-amz-date", "x-amz-checksum-crc32", "content-length", "x-amz-meta-plain"]));
    const signed = Object.fromEntries(signedHeaders.map((name) => [name, String(headers[name])]));
    expect(authorization).toBe(await signS3Request({ method: "PUT", path: put!.url, headers: signed, payloadSha256: sha256, region: "us-east-1", accessKeyId: "direct", secretAccessKey: SECRET, amzDate: String(headers["x-amz-date"]) }));
    expect(authorization).not.toContain(SECRET);
    expect(await readAll(storage, "media/objects/ab/x.age")).toEqual(body);
    const head = await storage.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${storage.endpoint.prefix}media/objects/ab/x.age`, ChecksumMode: "ENABLED" }));
    expect(head.ChecksumCRC32).toBe(crc32Base64(body));
    expect(head.Metadata).toEqual({ plain: "yes" });
  });

  it("stores the CRC32 the download checks: a damaged object is INTEGRITY_FAILED", async () => {
    using storage = open();
    const body = randomBytes(4096);
    await storage.put("corrupt.bin", body, { sha256: sha256Of(body) });
    const dataFile = join(dataDir, "buckets", BUCKET, "objects", `${storage.endpoint.prefix}corrupt.bin.data`);
    const stored = await readFile(dataFile);
    stored[100] = (stored[100] ?? 0) ^ 0xff;
    await writeFile(dataFile, stored);
    const error = await readAll(storage, "corrupt.bin").then(() => undefined, (thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).code).toBe("INTEGRITY_FAILED");
  });

  it("goes through the SDK without a caller's hash, or with directPut off", async () => {
    using storage = open();
    using sdkOnly = open({ directPut: false });
    const body = randomBytes(1000);
    await storage.put("unhashed.bin", body);
    await sdkOnly.put("hashed.bin", body, { sha256: sha256Of(body) });
    // The SDK's requests carry its invocation id; the direct request does not.
    expect(putsOf(storage, "unhashed.bin")[0]?.headers["amz-sdk-invocation-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(putsOf(sdkOnly, "hashed.bin")[0]?.headers["amz-sdk-invocation-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(putsOf(storage, "media/objects/ab/x.age")).toEqual([]);
    expect(putsOf(sdkOnly, "hashed.bin")[0]?.headers["x-amz-content-sha256"]).toBe(sha256Of(body));
    expect(await readAll(storage, "unhashed.bin")).toEqual(body);
  });

  it("retries a 503 SlowDown and stores the object once", async () => {
    using storage = open();
    const body = randomBytes(2000);
    failNext = { count: 2, status: 503, code: "SlowDown" };
    await storage.put("slow.bin", body, { sha256: sha256Of(body) });
    expect(putsOf(storage, "slow.bin").map((entry) => entry.status)).toEqual([503, 503, 200]);
    expect(await readAll(storage, "slow.bin")).toEqual(body);
  });

  it("gives up after maxAttempts with the server's error, and leaves no object", async () => {
    using storage = open();
    const body = randomBytes(2000);
    failNext = { count: 10, status: 500, code: "InternalError" };
    const error = await storage.put("down.bin", body, { sha256: sha256Of(body) }).then(() => undefined, (thrown: unknown) => thrown);
    failNext = { count: 0, status: 0, code: "" };
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).message).toBe(`unable to put object '${storage.location}down.bin': InternalError: injected by the test`);
    expect(putsOf(storage, "down.bin")).toHaveLength(3);
    expect(await storage.stat("down.bin")).toBeUndefined();
  });

  it("does not retry a refusal: 403 is access denied at once", async () => {
    using storage = open();
    const body = randomBytes(10);
    failNext = { count: 1, status: 403, code: "SignatureDoesNotMatch" };
    const error = await storage.put("denied.bin", body, { sha256: sha256Of(body) }).then(() => undefined, (thrown: unknown) => thrown);
    expect((error as DrError).message).toMatch(new RegExp(`^unable to put object '${storage.location}denied.bin': access denied by http://127.0.0.1:${proxyPort} \\(SignatureDoesNotMatch\\)`));
    expect((error as DrError).message).not.toContain(SECRET);
    expect(putsOf(storage, "denied.bin")).toHaveLength(1);
  });

  it("names a missing bucket", async () => {
    using storage = open({}, { bucket: "no-such-bucket-direct" });
    const body = randomBytes(10);
    await expect(storage.put("x.bin", body, { sha256: sha256Of(body) })).rejects.toThrow(/^unable to put object 's3:\/\/no-such-bucket-direct\/t-[^']+x\.bin': bucket 'no-such-bucket-direct' does not exist$/);
  });

  it("fails fast on an endpoint nobody listens on", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    using storage = open({ maxAttempts: 2 }, { endpoint: `http://127.0.0.1:${port}` });
    const body = randomBytes(10);
    const started = performance.now();
    await expect(storage.put("x.bin", body, { sha256: sha256Of(body) })).rejects.toThrow(/cannot reach S3 endpoint http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("is cancelled by its signal and leaves no object", async () => {
    using storage = open();
    const body = randomBytes(10);
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(storage.put("cancelled.bin", body, { sha256: sha256Of(body), signal: controller.signal })).rejects.toThrow(/cancel/i);
    // Cancelled while the first attempt is answered 503: no second attempt stores it.
    failNext = { count: 1, status: 503, code: "SlowDown" };
    const late = new AbortController();
    onRequest = () => late.abort(new Error("stop"));
    await expect(storage.put("cancelled.bin", body, { sha256: sha256Of(body), signal: late.signal })).rejects.toThrow(/cancel/i);
    onRequest = () => undefined;
    failNext = { count: 0, status: 0, code: "" };
    expect(putsOf(storage, "cancelled.bin")).toHaveLength(1);
    expect(await storage.stat("cancelled.bin")).toBeUndefined();
  });
});
