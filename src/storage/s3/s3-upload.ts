import { AbortMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { registerCleanup } from "../../lifecycle/cleanup-registry.ts";
import { ByteCounter } from "../storage-body.ts";

/** One streamed upload to S3. */
export interface S3UploadRequest {
  client: S3Client;
  bucket: string;
  /** Full object key, bucket prefix included. */
  key: string;
  body: Readable;
  metadata: Record<string, string>;
  contentType: string;
  /** Bytes per part; every part is one request, so it must fit the server's body limit. */
  partSize: number;
  /** Parts in flight at once; memory use is about queueSize * partSize. */
  queueSize: number;
  signal?: AbortSignal;
  onProgress?: (bytesSent: number) => void;
  /** How long a cancelled upload may take to clean up before we stop waiting for it, ms (default 5 s). */
  abortGraceMs?: number;
}

/** How long a cancelled upload waits for its in-flight parts before it gives up on them. */
const ABORT_GRACE_MS = 5_000;
/** How long one AbortMultipartUpload (or the listing that finds it) may take when we send it ourselves. */
const ABORT_REQUEST_MS = 5_000;

/**
 * Abort every incomplete multipart upload of exactly this key (best effort, each request
 * bounded): the one lib-storage knows about, and one whose CreateMultipartUpload answer we
 * never saw (searched for when asked, or when none is known). Keys carry a backup id, so
 * no other writer's upload shares the key.
 */
async function abortUploadsOfKey(client: S3Client, bucket: string, key: string, known: string | undefined, search: boolean): Promise<void> {
  const ids = new Set<string>(known ? [known] : []);
  if (search || !known) {
    try {
      const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }), { abortSignal: AbortSignal.timeout(ABORT_REQUEST_MS) });
      for (const upload of listed.Uploads ?? []) if (upload.Key === key && upload.UploadId) ids.add(upload.UploadId);
    } catch {
      // The endpoint does not answer: abort what we know; prune removes the rest later.
    }
  }
  await Promise.all([...ids].map((id) =>
    client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }), { abortSignal: AbortSignal.timeout(ABORT_REQUEST_MS) }).catch(() => undefined),
  ));
}

/**
 * Stream a body to S3 through lib-storage: one PutObject when it fits a part, multipart
 * otherwise. A failure or abort leaves nothing: lib-storage aborts the multipart upload
 * (leavePartsOnError: false) before `done()` settles, because we cancel by failing the
 * body stream rather than with `Upload.abort()` (which settles first and cleans up later).
 * An abort that lands after the last byte was read deletes the finished object.
 *
 * Two bounds keep a dead endpoint from holding the caller: a cancelled upload whose
 * in-flight parts do not settle within abortGraceMs (a frozen endpoint answers nothing
 * until each request times out) is abandoned with `Upload.abort()`, and we send the
 * AbortMultipartUpload ourselves with a short timeout; if that fails too, the incomplete
 * upload stays for `prune` (S3Storage.abortIncompleteUploads) or the bucket's lifecycle
 * rule. While the upload runs, SIGINT/SIGTERM/SIGHUP abort it before the process exits.
 * Resolves with the number of bytes stored.
 */
export async function uploadToS3(request: S3UploadRequest): Promise<number> {
  const { client, bucket, key, signal } = request;
  const counter = new ByteCounter();
  // Errors reach lib-storage through the counter (pipeline destroys it); nothing to do here.
  pipeline(request.body, counter).catch(() => undefined);
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: counter, Metadata: request.metadata, ContentType: request.contentType },
    partSize: request.partSize,
    queueSize: request.queueSize,
    leavePartsOnError: false,
  });
  let abandoned = false;
  let grace: NodeJS.Timeout | undefined;
  // Stop waiting for parts a dead endpoint will not answer: done() rejects at once.
  const abandon = (): void => {
    if (abandoned) return;
    abandoned = true;
    void upload.abort();
  };
  const cancel = (): void => {
    counter.destroy(signal?.reason instanceof Error ? signal.reason : new Error("upload cancelled"));
    grace = setTimeout(abandon, request.abortGraceMs ?? ABORT_GRACE_MS);
    grace.unref();
  };
  signal?.addEventListener("abort", cancel, { once: true });
  // A signal ends the process without unwinding this function: abort the upload first.
  const unregister = registerCleanup(async () => {
    counter.destroy(new Error("the process is stopping"));
    abandon();
    await abortUploadsOfKey(client, bucket, key, upload.uploadId, true);
  });
  upload.on("httpUploadProgress", (progress) => request.onProgress?.(progress.loaded ?? 0));
  try {
    await upload.done();
  } catch (error) {
    // Stop reading the caller's stream: other part uploaders would otherwise drain it.
    counter.destroy();
    if (abandoned) await abortUploadsOfKey(client, bucket, key, upload.uploadId, false);
    throw error;
  } finally {
    clearTimeout(grace);
    signal?.removeEventListener("abort", cancel);
    unregister();
  }
  if (signal?.aborted) {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    throw signal.reason;
  }
  return counter.bytes;
}
