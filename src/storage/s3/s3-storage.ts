import {
  AbortMultipartUploadCommand,
  ListPartsCommand,
  PutObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectLockConfigurationCommand,
} from "@aws-sdk/client-s3";
import type { BucketLocationConstraint, ObjectLockRetentionMode, S3Client } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { DrError, isDrError, messageOf, unable } from "../../errors/index.ts";
import type { S3Endpoint } from "../s3-endpoint.ts";
import type { ImmutabilityReport, IncompleteUpload, ObjectInfo, PutOptions, SignedRequest, Storage, StorageCapabilities, StoredObject } from "../storage.ts";
import { readStorageNow } from "../storage-clock.ts";
import { toReadable } from "../storage-body.ts";
import { createCancelledError, createNotFoundError } from "../storage-errors.ts";
import { validateKey } from "../storage-key.ts";
import { translateStreamErrors } from "../storage-stream.ts";
import { normalizeMetadata } from "../storage-metadata.ts";
import { probeS3Capabilities } from "./s3-capabilities.ts";
import { verifyS3Immutability } from "./s3-immutability.ts";
import { createS3Client, describeEndpoint, resolveTuning } from "./s3-client.ts";
import { S3DirectPut } from "./s3-direct-put.ts";
import type { S3ClientTuning } from "./s3-client.ts";
import { isAccessDenied, isNotFound, isUnreachable } from "./s3-errors.ts";
import { uploadToS3 } from "./s3-upload.ts";

const MIB = 1024 * 1024;
/** S3's limit on keys per DeleteObjects request. */
const MAX_DELETE_BATCH = 1000;

export interface S3StorageOptions extends S3ClientTuning {
  /** Keys per ListObjectsV2 page (MaxKeys), 1..1000; small values exercise paging in tests. */
  pageSize?: number;
  /** Keys per DeleteObjects request, 1..1000. */
  deleteBatchSize?: number;
  /**
   * Bytes per upload part, default 8 MiB: above S3's 5 MiB minimum and below the 11 MiB
   * request-body cap of the fauxqs emulator. 10 000 parts of 8 MiB allow ~78 GiB objects.
   */
  partSize?: number;
  /** Parts uploaded at once, default 4 (about 32 MiB of memory per upload). */
  queueSize?: number;
  /**
   * Send small buffer puts whose SHA-256 the caller gives as one signed request beside the
   * SDK (s3-direct-put.ts), on path-style custom endpoints. Default true; false sends every
   * request through the SDK client (and its middleware).
   */
  directPut?: boolean;
}

/** How createBucket() makes a bucket. */
export interface CreateBucketOptions {
  /**
   * Ask for Object Lock (which turns versioning on) with this default retention rule, so
   * every object written is locked. An endpoint that refuses the flag gets a plain bucket.
   */
  objectLock?: { mode: ObjectLockRetentionMode; days: number };
}

/**
 * A Storage in an S3 bucket under a key prefix. Streams both ways: uploads go in 8 MiB
 * parts through lib-storage, downloads are the response stream itself.
 *
 * Checksums: the SDK's defaults (requestChecksumCalculation / responseChecksumValidation
 * "WHEN_SUPPORTED") are kept. lib-storage hands the SDK one sized Buffer per request, so
 * the CRC32 travels in a header, never an aws-chunked trailer of unknown length (which the
 * SDK cannot sign for a stream without ContentLength). Single-part objects come back with
 * a FULL_OBJECT CRC32 that the SDK verifies while streaming (a mismatch is INTEGRITY_FAILED);
 * multipart objects carry a COMPOSITE checksum the SDK does not verify on download, so the
 * backup manifest's SHA-256 remains the end-to-end check. A small buffer whose SHA-256 the
 * caller gives (media files) goes out beside the SDK as one signed request with the same
 * payload hash and CRC32 headers (s3-direct-put.ts): same stored object, a sixth of the CPU.
 */
export class S3Storage implements Storage, Disposable {
  readonly location: string;
  readonly endpoint: S3Endpoint;
  readonly client: S3Client;
  #capabilities: StorageCapabilities;
  readonly #pageSize: number;
  readonly #deleteBatchSize: number;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #direct: S3DirectPut | undefined;

  constructor(endpoint: S3Endpoint, options: S3StorageOptions = {}) {
    this.endpoint = endpoint;
    this.location = `s3://${endpoint.bucket}/${endpoint.prefix}`;
    this.client = createS3Client(endpoint, options);
    this.#capabilities = { versioning: false, objectLock: false, multipart: true, ...endpoint.capabilities };
    this.#pageSize = clamp(options.pageSize ?? MAX_DELETE_BATCH, 1, 1000);
    this.#deleteBatchSize = clamp(options.deleteBatchSize ?? MAX_DELETE_BATCH, 1, MAX_DELETE_BATCH);
    this.#partSize = options.partSize ?? 8 * MIB;
    this.#queueSize = options.queueSize ?? 4;
    const direct = (options.directPut ?? true) && endpoint.endpoint !== undefined && endpoint.forcePathStyle;
    this.#direct = direct ? new S3DirectPut(this.client, endpoint.endpoint!, endpoint.region, resolveTuning(options)) : undefined;
  }

  /** What the bucket supports: the endpoint's claim until probeCapabilities() asks it. */
  get capabilities(): StorageCapabilities {
    return this.#capabilities;
  }

  // Ask the bucket for versioning and Object Lock, and keep the answer as `capabilities`.
  async probeCapabilities(): Promise<StorageCapabilities> {
    const probed = await probeS3Capabilities(this.client, this.endpoint.bucket);
    // What the target knows about its server ("fauxqs implements no Object Lock") says more than the bucket's answer.
    this.#capabilities = { ...probed, reasons: { ...probed.reasons, ...this.endpoint.capabilities.reasons } };
    return this.#capabilities;
  }

  // Create the bucket for local targets; one that already exists and is ours is fine.
  async createBucket(options: CreateBucketOptions = {}): Promise<void> {
    const { bucket, region } = this.endpoint;
    const create = (objectLock: boolean) =>
      this.client.send(new CreateBucketCommand({
        Bucket: bucket,
        // AWS rejects an explicit us-east-1 constraint and requires one everywhere else.
        ...(region === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        ...(objectLock ? { ObjectLockEnabledForBucket: true } : {}),
      }));
    try {
      try {
        await create(options.objectLock !== undefined);
      } catch (error) {
        // An endpoint without Object Lock may refuse the flag: then a plain bucket, and the
        // capability probe reports the lock as not verified.
        if (options.objectLock === undefined || nameOf(error) === "BucketAlreadyOwnedByYou") throw error;
        await create(false);
      }
    } catch (error) {
      if (nameOf(error) === "BucketAlreadyOwnedByYou") return;
      throw this.#explain("create bucket", bucket, error);
    }
    if (options.objectLock) {
      const { mode, days } = options.objectLock;
      await this.client
        .send(new PutObjectLockConfigurationCommand({
          Bucket: bucket,
          ObjectLockConfiguration: { ObjectLockEnabled: "Enabled", Rule: { DefaultRetention: { Mode: mode, Days: days } } },
        }))
        .catch(() => undefined);
    }
  }

  /** Prove the given backups are locked and a locked object resists deletion (S3 Object Lock). */
  async verifyImmutability(backupKeys: readonly string[]): Promise<ImmutabilityReport> {
    return await verifyS3Immutability({ client: this.client, bucket: this.endpoint.bucket, prefix: this.endpoint.prefix, capabilities: this.#capabilities }, backupKeys);
  }

  // Stream the body up; a failed or cancelled upload leaves no object and no parts.
  async put(key: string, body: Readable | Uint8Array | string, options: PutOptions = {}): Promise<{ size: number }> {
    validateKey(key);
    const metadata = normalizeMetadata(options.metadata);
    const where = this.location + key;
    const { signal } = options;
    if (signal?.aborted) throw createCancelledError(where, signal);
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        const bytes = typeof body === "string" ? Buffer.from(body) : body;
        if (bytes.byteLength <= this.#partSize && options.sha256 !== undefined && this.#direct) {
          // The caller hashed it: one signed request, none of the SDK's per-request work.
          checkSha256(options.sha256);
          await this.#direct.put({
            bucket: this.endpoint.bucket,
            key: this.#fullKey(key),
            body: bytes,
            sha256: options.sha256,
            contentType: options.contentType ?? "application/octet-stream",
            metadata,
            signal,
          });
          options.onProgress?.(bytes.byteLength);
          return { size: bytes.byteLength };
        }
        if (bytes.byteLength <= this.#partSize) {
          // A small buffer is one sized PutObject: no lib-storage machinery, no stream.
          const command = new PutObjectCommand({
            Bucket: this.endpoint.bucket,
            Key: this.#fullKey(key),
            Body: bytes,
            ContentLength: bytes.byteLength,
            Metadata: metadata,
            ContentType: options.contentType ?? "application/octet-stream",
          });
          if (options.sha256 !== undefined) withPayloadSha256(command, options.sha256);
          await this.client.send(command, { abortSignal: signal });
          options.onProgress?.(bytes.byteLength);
          return { size: bytes.byteLength };
        }
      }
      const size = await uploadToS3({
        client: this.client,
        bucket: this.endpoint.bucket,
        key: this.#fullKey(key),
        body: toReadable(body),
        metadata,
        contentType: options.contentType ?? "application/octet-stream",
        partSize: this.#partSize,
        queueSize: this.#queueSize,
        signal,
        onProgress: options.onProgress,
      });
      return { size };
    } catch (error) {
      if (signal?.aborted) throw createCancelledError(where, signal);
      throw this.#explain("put object", where, error);
    }
  }

  // The response body is returned as is: nothing is buffered.
  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    validateKey(key);
    const where = this.location + key;
    try {
      const answer = await this.client.send(
        new GetObjectCommand({ Bucket: this.endpoint.bucket, Key: this.#fullKey(key) }),
        { abortSignal: options.signal },
      );
      if (!(answer.Body instanceof Readable)) throw new Error("the response has no readable body");
      return translateStreamErrors(answer.Body, (error) => this.#explainRead(where, error), options.signal);
    } catch (error) {
      if (isNotFound(error)) throw createNotFoundError(where, error);
      throw this.#explain("get object", where, error);
    }
  }

  // Path-style custom endpoints only (the requests S3DirectPut signs); AWS's virtual-hosted addressing stays with get().
  async signedGet(key: string): Promise<SignedRequest | undefined> {
    validateKey(key);
    return this.#direct?.signGet(this.endpoint.bucket, this.#fullKey(key));
  }

  // HeadObject; a 404 means absent.
  async stat(key: string): Promise<ObjectInfo | undefined> {
    validateKey(key);
    try {
      const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.endpoint.bucket, Key: this.#fullKey(key) }));
      return {
        key,
        size: answer.ContentLength ?? 0,
        lastModified: answer.LastModified?.getTime() ?? 0,
        etag: answer.ETag,
        metadata: answer.Metadata ?? {},
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.#explain("stat object", this.location + key, error);
    }
  }

  // Page through ListObjectsV2 with continuation tokens; S3 returns keys in UTF-8 order.
  async *list(prefix: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      let answer;
      try {
        answer = await this.client.send(new ListObjectsV2Command({
          Bucket: this.endpoint.bucket,
          Prefix: this.endpoint.prefix + prefix,
          MaxKeys: this.#pageSize,
          ContinuationToken: token,
        }));
      } catch (error) {
        throw this.#explain("list objects", this.location + prefix, error);
      }
      for (const object of answer.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key.slice(this.endpoint.prefix.length),
          size: object.Size ?? 0,
          lastModified: object.LastModified?.getTime() ?? 0,
          etag: object.ETag,
        };
      }
      token = answer.IsTruncated ? answer.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  // DeleteObject; S3 answers 204 for absent keys too.
  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.endpoint.bucket, Key: this.#fullKey(key) }));
    } catch (error) {
      throw this.#explain("delete object", this.location + key, error);
    }
  }

  // DeleteObjects in batches of at most 1000; any per-key error fails the call.
  async deleteMany(keys: readonly string[]): Promise<void> {
    keys.forEach(validateKey);
    for (let start = 0; start < keys.length; start += this.#deleteBatchSize) {
      const batch = keys.slice(start, start + this.#deleteBatchSize);
      let answer;
      try {
        answer = await this.client.send(new DeleteObjectsCommand({
          Bucket: this.endpoint.bucket,
          Delete: { Objects: batch.map((key) => ({ Key: this.#fullKey(key) })), Quiet: true },
        }));
      } catch (error) {
        throw this.#explain("delete objects", this.location + (batch[0] ?? ""), error);
      }
      const failure = answer.Errors?.[0];
      if (failure) {
        const reason = `${failure.Code ?? "error"}: ${failure.Message ?? "no message"} (${answer.Errors?.length ?? 1} key(s) not deleted)`;
        throw new DrError("STORAGE_FAILED", unable("delete object", this.location + (failure.Key ?? "").slice(this.endpoint.prefix.length), reason));
      }
    }
  }

  // HeadBucket: tells a missing bucket from an unreachable endpoint or refused credentials.
  async check(): Promise<void> {
    const { bucket } = this.endpoint;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      if (isNotFound(error)) {
        throw new DrError("BUCKET_MISSING", unable("open bucket", bucket, "it does not exist"), {
          hint: `create it, or check DR_S3_BUCKET (and DR_S3_ENDPOINT: ${describeEndpoint(this.endpoint)})`,
          cause: error,
        });
      }
      throw this.#explain("open bucket", bucket, error);
    }
  }

  // Multipart uploads started under the prefix and never completed or aborted (they cost storage).
  // Lenient, as the conformance tests use it: 0 from an endpoint that cannot list them (those
  // tests count fauxqs's own records too); listIncompleteUploads says so instead.
  async countPendingUploads(): Promise<number> {
    try {
      return (await this.#listUploads("")).length;
    } catch (error) {
      if (isDrError(error, "STORAGE_UNSUPPORTED")) return 0;
      throw error;
    }
  }

  /**
   * Incomplete multipart uploads under prefix, oldest first, with their age on the
   * storage's clock and the bytes their parts hold (ListMultipartUploads + ListParts).
   */
  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    const uploads = await this.#listUploads(prefix);
    if (uploads.length === 0) return [];
    const storageNow = await readStorageNow(this);
    const listed: IncompleteUpload[] = [];
    for (const upload of uploads) {
      listed.push({ ...upload, ageMs: Math.max(0, storageNow - upload.initiated), bytes: await this.#uploadBytes(upload.key, upload.uploadId) });
    }
    return listed.sort((a, b) => a.initiated - b.initiated);
  }

  /**
   * Abort the incomplete uploads under prefix older than olderThanMs (storage clock against
   * storage clock: a running backup's upload is young on both, whatever the host's clock
   * says). An upload aborted meanwhile by its owner is not an error.
   */
  async abortIncompleteUploads(olderThanMs: number, prefix = ""): Promise<IncompleteUpload[]> {
    const old = (await this.listIncompleteUploads(prefix)).filter((upload) => upload.ageMs >= olderThanMs);
    for (const upload of old) {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.endpoint.bucket, Key: this.#fullKey(upload.key), UploadId: upload.uploadId }));
      } catch (error) {
        if (nameOf(error) === "NoSuchUpload") continue;
        throw this.#explain("abort incomplete upload", `${this.location}${upload.key} (upload ${upload.uploadId})`, error);
      }
    }
    return old;
  }

  /** ListMultipartUploads under prefix, every page. */
  async #listUploads(prefix: string): Promise<{ key: string; uploadId: string; initiated: number }[]> {
    const uploads: { key: string; uploadId: string; initiated: number }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let answer;
      try {
        answer = await this.client.send(new ListMultipartUploadsCommand({
          Bucket: this.endpoint.bucket,
          Prefix: this.endpoint.prefix + prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }));
      } catch (error) {
        throw this.#explain("list incomplete uploads", this.location + prefix, error);
      }
      // A real ListMultipartUploadsResult always names its Bucket; an endpoint that does not
      // implement the call (fauxqs answers with an object listing) must not read as "none".
      if (answer.Bucket === undefined && answer.Uploads === undefined) {
        throw new DrError("STORAGE_UNSUPPORTED", unable("list incomplete uploads", this.location + prefix, `the S3 endpoint ${describeEndpoint(this.endpoint)} does not implement ListMultipartUploads`), {
          hint: "incomplete uploads cannot be counted or removed through this endpoint: rely on the bucket's lifecycle rule (AbortIncompleteMultipartUpload)",
        });
      }
      for (const upload of answer.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        uploads.push({ key: upload.Key.slice(this.endpoint.prefix.length), uploadId: upload.UploadId, initiated: upload.Initiated?.getTime() ?? 0 });
      }
      keyMarker = answer.IsTruncated ? answer.NextKeyMarker : undefined;
      uploadIdMarker = answer.IsTruncated ? answer.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return uploads;
  }

  /** Bytes held by an upload's parts; undefined when the endpoint will not list them. */
  async #uploadBytes(key: string, uploadId: string): Promise<number | undefined> {
    let bytes = 0;
    let marker: string | undefined;
    try {
      do {
        const answer = await this.client.send(new ListPartsCommand({ Bucket: this.endpoint.bucket, Key: this.#fullKey(key), UploadId: uploadId, PartNumberMarker: marker }));
        for (const part of answer.Parts ?? []) bytes += part.Size ?? 0;
        marker = answer.IsTruncated ? answer.NextPartNumberMarker : undefined;
      } while (marker !== undefined);
    } catch {
      return undefined;
    }
    return bytes;
  }

  /** Close the client's sockets. */
  [Symbol.dispose](): void {
    this.client.destroy();
    this.#direct?.[Symbol.dispose]();
  }

  /** The bucket key for a storage key. */
  #fullKey(key: string): string {
    return this.endpoint.prefix + key;
  }

  /** A download that broke midway: a CRC32 mismatch is corruption, anything else a failure. */
  #explainRead(where: string, error: unknown): Error {
    if (error instanceof Error && error.name === "AbortError") return error;
    if (messageOf(error).startsWith("Checksum mismatch")) {
      return new DrError("INTEGRITY_FAILED", unable("get object", where, messageOf(error)), {
        hint: "the stored object differs from what was uploaded; restore from another backup and check the storage",
        cause: error,
      });
    }
    return this.#explain("get object", where, error);
  }

  /** Turn an SDK or network error into a DrError that says what to check; never leaks credentials. */
  #explain(action: string, where: string, error: unknown): DrError {
    if (error instanceof DrError) return error;
    const endpointName = describeEndpoint(this.endpoint);
    if (isUnreachable(error)) {
      return new DrError("STORAGE_FAILED", unable(action, where, `cannot reach S3 endpoint ${endpointName}: ${messageOf(error)}`), {
        hint: "check DR_S3_ENDPOINT and that the S3 server is running and reachable",
        cause: error,
      });
    }
    if (isAccessDenied(error)) {
      return new DrError("STORAGE_FAILED", unable(action, where, `access denied by ${endpointName} (${nameOf(error)})`), {
        hint: "check the S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile) and the bucket policy",
        cause: error,
      });
    }
    if (nameOf(error) === "NoSuchBucket") {
      return new DrError("STORAGE_FAILED", unable(action, where, `bucket '${this.endpoint.bucket}' does not exist`), {
        hint: "create it, or check DR_S3_BUCKET",
        cause: error,
      });
    }
    const name = nameOf(error);
    const reason = name === "Error" ? messageOf(error) : `${name}: ${messageOf(error)}`;
    return new DrError("STORAGE_FAILED", unable(action, where, reason), { cause: error });
  }
}

/** The error's name (SDK errors carry the S3 error code there). */
function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

/** Keep n within [low, high]. */
function clamp(n: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, Math.floor(n)));
}

/** A payload hash must be 64 lower-case hex digits: anything else is a programming error. */
function checkSha256(sha256: string): void {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new TypeError(`put: sha256 must be 64 lower-case hex digits, got '${sha256}'`);
}

/**
 * Give a PutObject the body's SHA-256 the caller already has: the SigV4 signer takes a preset
 * `x-amz-content-sha256` instead of hashing the body again, and S3 checks the bytes it got
 * against it (XAmzContentSHA256Mismatch), so the hash in the manifest is what was stored.
 */
function withPayloadSha256(command: PutObjectCommand, sha256: string): void {
  checkSha256(sha256);
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-content-sha256"] = sha256;
      return await next(args);
    },
    { step: "build", name: "drDrillPayloadSha256" },
  );
}
