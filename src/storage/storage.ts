import type { Readable } from "node:stream";

/** What a storage driver supports; checks that need a missing one report "not verified". */
export interface StorageCapabilities {
  /** Object versions are kept on overwrite/delete. */
  versioning: boolean;
  /** Objects can be locked against deletion (S3 Object Lock). */
  objectLock: boolean;
  /** Uploads larger than one request go in parts, and a failed one can be aborted. */
  multipart: boolean;
  /** Why versioning or Object Lock is off, as the endpoint answered (for "not verified" lines). */
  reasons?: { versioning?: string; objectLock?: string };
}

/** One attempt to destroy a locked object, and what the endpoint did about it. */
export interface ImmutabilityProbe {
  /** What was tried, e.g. "delete the locked version". */
  attempt: string;
  /** refused (or the locked bytes were kept): as it must be; allowed: a breach. */
  outcome: "refused" | "kept" | "allowed";
  /** The endpoint's answer (error code and HTTP status) or the bytes read back. */
  detail: string;
}

/** Whether stored backups are protected against deletion and overwrite (S3 Object Lock). */
export interface ImmutabilityReport {
  /** verified: every backup locked and every attack refused; not verified: the storage cannot tell (detail says why). */
  status: "verified" | "failed" | "not verified";
  detail: string;
  /** The bucket's default retention rule, e.g. "COMPLIANCE 7 days", when it has one. */
  defaultRetention?: string;
  /** The backup objects checked, with the lock each carries. */
  backups: { key: string; mode?: string; retainUntil?: string }[];
  /** The attacks tried on a probe object locked like the backups. */
  probes: ImmutabilityProbe[];
}

/** One stored object as listed. */
export interface StoredObject {
  /** Full key, relative to the storage root (the driver's prefix is not included). */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Last-modified time, ms since epoch. */
  lastModified: number;
  /** Driver's entity tag, when it has one. */
  etag?: string;
}

/** An object's details, with the user metadata stored alongside it. */
export interface ObjectInfo extends StoredObject {
  /** User metadata (S3 x-amz-meta-*): lower-case keys, string values. */
  metadata: Record<string, string>;
}

/** A multipart upload started and never completed or aborted: its parts cost storage until removed. */
export interface IncompleteUpload {
  /** Storage key it was uploading to (the driver's prefix not included). */
  key: string;
  /** The endpoint's upload id (what AbortMultipartUpload takes). */
  uploadId: string;
  /** When it was started, on the storage's clock, ms since epoch. */
  initiated: number;
  /** Its age on the storage's clock (storage "now" minus initiated), ms. */
  ageMs: number;
  /** Bytes of the parts it holds, when the endpoint lists them. */
  bytes?: number;
}

/** An HTTP request another program can send as it is: the URL and every header (the signature among them). */
export interface SignedRequest {
  url: string;
  headers: Record<string, string>;
}

export interface PutOptions {
  /** User metadata to store with the object: names are lower-cased; values printable ASCII (S3 headers). */
  metadata?: Record<string, string>;
  /** Content type, default application/octet-stream. */
  contentType?: string;
  /** Cancels the upload; a cancelled or failed upload leaves no object (multipart aborted). */
  signal?: AbortSignal;
  /** Called as bytes are sent, for progress display. */
  onProgress?: (bytesSent: number) => void;
  /**
   * Hex SHA-256 of a buffer body, when the caller has already computed it (ignored for a
   * stream). The S3 driver sends it as `x-amz-content-sha256`: the signature covers it and
   * the endpoint checks the received bytes against it, and the body is not hashed again.
   */
  sha256?: string;
}

/**
 * Where backups live. Keys are relative to the driver's root (an S3 bucket + prefix, or a
 * folder) and look like relative paths: no leading '/', no '.', '..' or empty segments, no
 * backslash (every driver rejects those with a DrError, see validateKey). A put either
 * stores the whole object or nothing: a failed stream aborts it. Errors are DrErrors,
 * including those a `get` stream emits midway (INTEGRITY_FAILED for a checksum mismatch).
 * The one conformance suite in conformance.ts states the contract as tests.
 */
export interface Storage {
  /** Human-readable location, no secrets: `s3://bucket/prefix/`, `file:///var/backups/`. */
  readonly location: string;
  readonly capabilities: StorageCapabilities;
  /** Store a stream or buffer at key; resolves with the stored size in bytes. */
  put(key: string, body: Readable | Uint8Array | string, options?: PutOptions): Promise<{ size: number }>;
  /** Stream an object; throws DrError STORAGE_NOT_FOUND when absent. */
  get(key: string, options?: { signal?: AbortSignal }): Promise<Readable>;
  /**
   * A signed HTTP GET of the object for a stock downloader (curl) to send itself, so its
   * bytes need not pass through this process; undefined when the driver cannot make one
   * (then get() is the way). Errors of that request are the caller's to explain: get() again.
   */
  signedGet?(key: string): Promise<SignedRequest | undefined>;
  /** Object details, or undefined when absent. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /**
   * Prove the given backup objects are locked and that a locked object can be neither
   * deleted nor overwritten. Only drivers with Object Lock have it; without it the answer
   * is "not verified" with the reason.
   */
  verifyImmutability?(backupKeys: readonly string[]): Promise<ImmutabilityReport>;
  /** All objects whose key starts with prefix, sorted by key (pages through any number). */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Delete one object; deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Delete many objects (batched where the backend allows). */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Check the storage is reachable and the bucket/folder exists (clear error otherwise). */
  check(): Promise<void>;
  /**
   * Multipart uploads under prefix that were started and never completed or aborted (a
   * backup killed with SIGKILL, a host that lost power). Only drivers with multipart have it.
   */
  listIncompleteUploads?(prefix: string): Promise<IncompleteUpload[]>;
  /**
   * Abort the incomplete uploads under prefix (default: everything) older than olderThanMs
   * on the storage's own clock; younger ones may belong to a backup still running. Returns
   * the uploads aborted.
   */
  abortIncompleteUploads?(olderThanMs: number, prefix?: string): Promise<IncompleteUpload[]>;
}
