import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredPart } from "../manifest/index.ts";
import { MemoryStorage } from "../storage/memory/memory-storage.ts";
import type { SignedRequest } from "../storage/storage.ts";
import { findAge } from "./age-child.ts";
import { curlConfig, findCurl, startCurlGet } from "./curl-child.ts";
import { type DownloadOptions, downloadPartToFile } from "./download-part.ts";
import { uploadBuffer } from "./upload-part.ts";
import { drErrorOf } from "../errors/dr-error-of.ts";

const SIGNATURE = "AWS4-HMAC-SHA256 Credential=test/signature-that-must-stay-out-of-argv";

/**
 * A stand-in for an S3 driver that signs requests: the objects of a MemoryStorage, also served
 * over HTTP to a request carrying the signature (what signedGet hands out), answering
 * `status` instead when set. Counts the get() calls, to tell which way the bytes came.
 */
class ServedStorage extends MemoryStorage {
  gets = 0;
  status: number | undefined;
  readonly seen: string[] = [];
  #server: Server | undefined;
  #port = 0;

  async listen(): Promise<void> {
    this.#server = createServer((request, response) => {
      this.seen.push(String(request.headers.authorization));
      const key = decodeURIComponent((request.url ?? "/").slice(1));
      if (this.status !== undefined || request.headers.authorization !== SIGNATURE) {
        response.writeHead(this.status ?? 403).end();
        return;
      }
      void super.get(key).then(
        (body) => body.pipe(response),
        () => response.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  override async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    this.gets++;
    return super.get(key, options);
  }

  async signedGet(key: string): Promise<SignedRequest> {
    return { url: `http://127.0.0.1:${this.#port}/${encodeURIComponent(key)}`, headers: { authorization: SIGNATURE } };
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

let dir: string;
let identity: string;
let storage: ServedStorage;
let part: StoredPart;
let stored: Buffer;
const data = randomBytes(3 * 1024 * 1024 + 12_345);
const tools = findAge() && findCurl();
const NO_TOOLS = "the age or curl CLI is not installed (bash scripts/bootstrap.sh installs them)";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dr-drill-curl-"));
  identity = await generateIdentity();
  storage = new ServedStorage();
  await storage.listen();
  part = await uploadBuffer({ storage, key: "postgres/b1/base.tar.age", data, recipients: [await identityToRecipient(identity)] });
  stored = Buffer.concat(await (await storage.get(part.key)).toArray());
});

afterAll(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

const options = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({ storage, part, backupId: "b1", identities: [identity], encrypted: true, decryptInChild: true, ...extra });

describe("downloadPart through the stock curl (a signed GET the storage makes)", () => {
  it("curl streams the stored bytes into age, which writes the file: byte for byte, get() not called, progress up to the stored size", async (ctx) => {
    if (!tools) return ctx.skip(NO_TOOLS);
    storage.gets = 0;
    const progress: number[] = [];
    const result = await downloadPartToFile(options({ onProgress: (bytes) => progress.push(bytes) }), join(dir, "whole"));
    expect((await readFile(join(dir, "whole"))).equals(data)).toBe(true);
    expect(result).toEqual({ storedBytes: part.size, plainBytes: data.length });
    expect(storage.gets).toBe(0);
    expect(storage.seen.at(-1)).toBe(SIGNATURE);
    expect(progress.at(-1)).toBe(part.size);
  });

  it("curl delivered nothing (the endpoint refused it): the download goes through get() instead, same file", async (ctx) => {
    if (!tools) return ctx.skip(NO_TOOLS);
    storage.gets = 0;
    storage.status = 503;
    try {
      await downloadPartToFile(options(), join(dir, "fallback"));
    } finally {
      storage.status = undefined;
    }
    expect((await readFile(join(dir, "fallback"))).equals(data)).toBe(true);
    expect(storage.gets).toBe(1);
  });

  it("an object that is not there: get()'s STORAGE_NOT_FOUND, not curl's exit code", async (ctx) => {
    if (!tools) return ctx.skip(NO_TOOLS);
    const error = await drErrorOf(downloadPartToFile(options({ part: { ...part, key: "postgres/b1/missing.age" } }), join(dir, "missing")));
    expect(error.code).toBe("STORAGE_NOT_FOUND");
    expect(existsSync(join(dir, "missing"))).toBe(false);
  });

  it("a flipped byte or a cut object: age stops at the damage, and the object hashed again is named by its SHA-256 or size mismatch", async (ctx) => {
    if (!tools) return ctx.skip(NO_TOOLS);
    const flipped = Buffer.from(stored);
    const at = flipped.length - 70_000;
    flipped.writeUInt8(flipped.readUInt8(at) ^ 0x01, at);
    await storage.put(part.key, flipped);
    try {
      const error = await drErrorOf(downloadPartToFile(options(), join(dir, "flipped")));
      expect(error.message).toMatch(new RegExp(`^unable to verify backup 'b1': SHA-256 mismatch on '${part.key}'`));
      await storage.put(part.key, stored.subarray(0, stored.length - 100_000));
      const cut = await drErrorOf(downloadPartToFile(options(), join(dir, "cut")));
      expect(cut.message).toBe(`unable to verify backup 'b1': size mismatch on '${part.key}': expected ${part.size}, got ${part.size - 100_000}`);
    } finally {
      await storage.put(part.key, stored);
    }
    expect(existsSync(join(dir, "flipped")) || existsSync(join(dir, "cut"))).toBe(false);
  });

  it("a wrong key: age's DECRYPTION_FAILED, no file left", async (ctx) => {
    if (!tools) return ctx.skip(NO_TOOLS);
    const error = await drErrorOf(downloadPartToFile(options({ identities: [await generateIdentity()] }), join(dir, "wrong-key")));
    expect(error.code).toBe("DECRYPTION_FAILED");
    expect(existsSync(join(dir, "wrong-key"))).toBe(false);
  });
});

describe("startCurlGet", () => {
  it("hands curl the request (URL, signature) on stdin only: not in its argv, not in its environment", async () => {
    const seen = join(dir, "seen-curl");
    const fake = join(dir, "fake-curl");
    await writeFile(fake, `#!/bin/sh\n{ echo "ARGV $*"; env; echo "STDIN"; cat; } > '${seen}'\necho "dr-drill-get: 200 0" >&2\n`);
    await chmod(fake, 0o755);
    const out = join(dir, "fake-curl-out");
    await writeFile(out, "");
    const handle = await open(out, "w");
    const request = { url: "http://127.0.0.1:9/bucket/key", headers: { authorization: SIGNATURE, "x-amz-date": "20261203T000000Z" } };
    try {
      expect(await startCurlGet(fake, request, handle.fd).exited).toEqual({ status: 200, bytes: 0 });
    } finally {
      await handle.close();
    }
    const text = await readFile(seen, "utf8");
    const [before, stdin] = text.split("\nSTDIN\n");
    expect(before).not.toContain("signature-that-must-stay-out-of-argv");
    expect(stdin).toBe(curlConfig(request));
    expect(stdin).toContain(`header = "authorization: ${SIGNATURE}"`);
    expect(before!.split("\n")[0]).toMatch(/^ARGV -q .*--config -/);
  });
});
