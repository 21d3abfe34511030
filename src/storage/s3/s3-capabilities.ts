import { GetBucketVersioningCommand, GetObjectLockConfigurationCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import type { StorageCapabilities } from "../storage.ts";

/**
 * Ask the bucket what it supports. A probe that errors (NotImplemented, AccessDenied,
 * ObjectLockConfigurationNotFoundError, an emulator answering something else) counts as
 * unsupported: a check that relies on it then reports "not verified" instead of passing.
 */
export async function probeS3Capabilities(client: S3Client, bucket: string): Promise<StorageCapabilities> {
  const [versioning, objectLock] = await Promise.all([probeVersioning(client, bucket), probeObjectLock(client, bucket)]);
  return { versioning, objectLock, multipart: true };
}

/** Versioning counts only when enabled now; "Suspended" keeps old versions but adds none. */
async function probeVersioning(client: S3Client, bucket: string): Promise<boolean> {
  try {
    const answer = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    return answer.Status === "Enabled";
  } catch {
    return false;
  }
}

/** Object Lock counts when the bucket has it enabled (a default retention rule is optional). */
async function probeObjectLock(client: S3Client, bucket: string): Promise<boolean> {
  try {
    const answer = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    return answer.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled";
  } catch {
    return false;
  }
}
