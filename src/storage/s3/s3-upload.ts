import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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
}

/**
 * Stream a body to S3 through lib-storage: one PutObject when it fits a part, multipart
 * otherwise. A failure or abort leaves nothing: lib-storage aborts the multipart upload
 * (leavePartsOnError: false) before `done()` settles, because we cancel by failing the
 * body stream rather than with `Upload.abort()` (which settles first and cleans up later).
 * An abort that lands after the last byte was read deletes the finished object.
 * Resolves with the number of bytes stored.
 */
export async function uploadToS3(request: S3UploadRequest): Promise<number> {
  const { client, bucket, key, signal } = request;
  const counter = new ByteCounter();
  // Errors reach lib-storage through the counter (pipeline destroys it); nothing to do here.
  pipeline(request.body, counter).catch(() => undefined);
  const cancel = (): void => {
    counter.destroy(signal?.reason instanceof Error ? signal.reason : new Error("upload cancelled"));
  };
  signal?.addEventListener("abort", cancel, { once: true });
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: counter, Metadata: request.metadata, ContentType: request.contentType },
    partSize: request.partSize,
    queueSize: request.queueSize,
    leavePartsOnError: false,
  });
  upload.on("httpUploadProgress", (progress) => request.onProgress?.(progress.loaded ?? 0));
  try {
    await upload.done();
  } catch (error) {
    // Stop reading the caller's stream: other part uploaders would otherwise drain it.
    counter.destroy();
    throw error;
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
  if (signal?.aborted) {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    throw signal.reason;
  }
  return counter.bytes;
}
