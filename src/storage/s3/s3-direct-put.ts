import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { crc32 } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SignedRequest } from "../storage.ts";
import { encodeSegment, signS3Request, toAmzDate } from "./s3-sigv4.ts";

/** One small object to store in a single request. */
export interface DirectPutRequest {
  bucket: string;
  /** The full bucket key (prefix included). */
  key: string;
  body: Uint8Array;
  /** Hex SHA-256 of body: signed, sent as x-amz-content-sha256, checked by the server. */
  sha256: string;
  contentType: string;
  /** Normalized (lower-case) metadata. */
  metadata: Record<string, string>;
  signal?: AbortSignal;
}

export interface DirectPutTuning {
  maxAttempts: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/** S3 error codes worth another attempt (the SDK's standard retry treats them as transient). */
const RETRYABLE_CODES = new Set(["SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException", "RequestThrottled"]);
const RETRYABLE_NETWORK = new Set(["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT", "ECONNABORTED", "EAI_AGAIN"]);
const MAX_BACKOFF_MS = 20_000;
/** SHA-256 of an empty body (a GET's payload hash, as the SDK signs it). */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** An error shaped like the SDK's: the S3 code as `name`, the HTTP status in $metadata. */
function s3Error(status: number, text: string): Error {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  const name = code ?? (status === 404 ? "NotFound" : status === 403 ? "Forbidden" : `HTTP${status}`);
  const error = new Error(message ?? `${name} (HTTP ${status})`);
  error.name = name;
  return Object.assign(error, { $metadata: { httpStatusCode: status } });
}

/** True when another attempt may succeed: a network error, throttling, a 5xx. */
function isRetryable(error: unknown): boolean {
  const shape = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = shape.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429 || RETRYABLE_CODES.has(shape.name ?? "");
  return shape.name === "TimeoutError" || RETRYABLE_NETWORK.has(shape.code ?? "");
}

/**
 * PutObject of a small buffer as one signed HTTP request, beside the SDK rather than through
 * it: on 10,000 media files the SDK's per-request middleware (serializer, endpoint rules,
 * retry and checksum middleware, signer) cost ~1.4 ms of CPU per object against ~0.2 ms for
 * the request itself (bench/media-profile.ts), and on a 2-core host those CPU-seconds are
 * the sync's time. The request carries what the SDK's did: SigV4 over the given payload
 * SHA-256 (the server refuses a body that does not match it), a CRC32 checksum header (the
 * object then comes back with a FULL_OBJECT CRC32 the SDK verifies on download), metadata
 * and content type. Credentials, region and clock offset come from the SDK client; retries
 * follow its standard mode (exponential backoff with jitter, same attempts), and the same
 * connection and request timeouts apply. Errors look like the SDK's (S3 code as name, HTTP
 * status in $metadata), so S3Storage explains them the same way. Path-style custom endpoints
 * only (fauxqs, RGW, MinIO): AWS's virtual-hosted addressing stays with the SDK.
 */
export class S3DirectPut implements Disposable {
  readonly #client: S3Client;
  readonly #base: URL;
  readonly #region: string;
  readonly #tuning: DirectPutTuning;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;

  constructor(client: S3Client, endpoint: string, region: string, tuning: DirectPutTuning) {
    this.#client = client;
    this.#base = new URL(endpoint);
    this.#region = region;
    this.#tuning = tuning;
    const https = this.#base.protocol === "https:";
    this.#agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 50 }) : new HttpAgent({ keepAlive: true, maxSockets: 50 });
    this.#request = https ? (httpsRequest as typeof httpRequest) : httpRequest;
  }

  /** Store the object, retrying transient failures; rejects with the last error. */
  async put(put: DirectPutRequest): Promise<void> {
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32(put.body));
    const crc = checksum.toString("base64");
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#send(put, crc);
        return;
      } catch (error) {
        if (put.signal?.aborted || attempt >= this.#tuning.maxAttempts || !isRetryable(error)) throw error;
        await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt), undefined, { signal: put.signal });
      }
    }
  }

  /** The request path of an object: the endpoint's own path, the bucket, the key, each segment encoded. */
  #pathOf(bucket: string, key: string): string {
    const basePath = this.#base.pathname.replace(/\/+$/, "");
    return `${basePath}/${encodeSegment(bucket)}/${key.split("/").map(encodeSegment).join("/")}`;
  }

  /** The x-amz-date of a request signed now, on the server's clock as the SDK client knows it. */
  #amzDate(): string {
    return toAmzDate(Date.now() + (this.#client.config.systemClockOffset ?? 0));
  }

  /**
   * A signed GetObject request for another program to send (the stock curl streaming a base
   * backup into age): the URL and the headers, authorization included. The signature is
   * valid for a few minutes and for this object only; the secret key is not in it.
   */
  async signGet(bucket: string, key: string): Promise<SignedRequest> {
    const identity = await this.#client.config.credentials();
    const path = this.#pathOf(bucket, key);
    const amzDate = this.#amzDate();
    const headers: Record<string, string> = { host: this.#base.host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amzDate };
    if (identity.sessionToken) headers["x-amz-security-token"] = identity.sessionToken;
    headers.authorization = await signS3Request({
      method: "GET",
      path,
      headers,
      payloadSha256: EMPTY_SHA256,
      region: this.#region,
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      amzDate,
    });
    const { host: _host, ...sent } = headers;
    return { url: `${this.#base.protocol}//${this.#base.host}${path}`, headers: sent };
  }

  /** One signed attempt. */
  async #send(put: DirectPutRequest, crc: string): Promise<void> {
    const identity = await this.#client.config.credentials();
    const path = this.#pathOf(put.bucket, put.key);
    const amzDate = this.#amzDate();
    const headers: Record<string, string> = {
      host: this.#base.host,
      "content-length": String(put.body.byteLength),
      "content-type": put.contentType,
      "x-amz-content-sha256": put.sha256,
      "x-amz-date": amzDate,
      "x-amz-checksum-crc32": crc,
      "x-amz-sdk-checksum-algorithm": "CRC32",
    };
    for (const [name, value] of Object.entries(put.metadata)) headers[`x-amz-meta-${name}`] = value;
    if (identity.sessionToken) headers["x-amz-security-token"] = identity.sessionToken;
    headers.authorization = await signS3Request({
      method: "PUT",
      path,
      headers,
      payloadSha256: put.sha256,
      region: this.#region,
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      amzDate,
    });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = this.#request({
        protocol: this.#base.protocol,
        hostname: this.#base.hostname,
        port: this.#base.port,
        method: "PUT",
        path,
        headers,
        agent: this.#agent,
        signal: put.signal,
      });
      // No response headers within the request timeout (the body is sent by then): give up.
      const timer = setTimeout(() => request.destroy(Object.assign(new Error(`no response within ${this.#tuning.requestTimeoutMs} ms`), { name: "TimeoutError" })), this.#tuning.requestTimeoutMs);
      request.once("socket", (socket) => {
        if (!socket.connecting) return;
        const connect = setTimeout(() => request.destroy(Object.assign(new Error(`could not connect within ${this.#tuning.connectionTimeoutMs} ms`), { name: "TimeoutError", code: "ETIMEDOUT" })), this.#tuning.connectionTimeoutMs);
        socket.once("connect", () => clearTimeout(connect));
        socket.once("close", () => clearTimeout(connect));
      });
      request.once("response", (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      request.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      request.end(put.body);
    });
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      response.resume();
      await new Promise<void>((resolve, reject) => {
        response.once("end", resolve);
        response.once("error", reject);
      });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    throw s3Error(status, Buffer.concat(chunks).toString("utf8"));
  }

  /** Close the kept-alive sockets. */
  [Symbol.dispose](): void {
    this.#agent.destroy();
  }
}
