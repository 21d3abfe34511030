import { GetBucketVersioningCommand, GetObjectLockConfigurationCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import type { StorageCapabilities } from "../storage.ts";
import { describeSdkError } from "./s3-errors.ts";

/**
 * Ask the bucket what it supports. A probe that errors (NotImplemented, AccessDenied,
 * ObjectLockConfigurationNotFoundError, an emulator answering something else) counts as
 * unsupported, with the answer kept as the reason: a check that relies on it then reports
 * "not verified" and why, instead of passing.
 */
export async function probeS3Capabilities(client: S3Client, bucket: string): Promise<StorageCapabilities> {
  const [versioning, objectLock] = await Promise.all([probeVersioning(client, bucket), probeObjectLock(client, bucket)]);
  const reasons: StorageCapabilities["reasons"] = {};
  if (versioning.reason) reasons.versioning = versioning.reason;
  if (objectLock.reason) reasons.objectLock = objectLock.reason;
  return { versioning: versioning.on, objectLock: objectLock.on, multipart: true, reasons };
}

interface Probed {
  on: boolean;
  reason?: string;
}

/** Versioning counts only when enabled now; "Suspended" keeps old versions but adds none. */
async function probeVersioning(client: S3Client, bucket: string): Promise<Probed> {
  try {
    const answer = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    if (answer.Status === "Enabled") return { on: true };
    return { on: false, reason: `versioning is ${answer.Status ?? "not enabled"} on bucket '${bucket}' (GetBucketVersioning)` };
  } catch (error) {
    return { on: false, reason: `GetBucketVersioning on bucket '${bucket}' answered ${describeSdkError(error)}` };
  }
}

/** Object Lock counts when the bucket has it enabled (a default retention rule is optional). */
async function probeObjectLock(client: S3Client, bucket: string): Promise<Probed> {
  try {
    const answer = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    if (answer.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled") return { on: true };
    return { on: false, reason: `Object Lock is not enabled on bucket '${bucket}' (GetObjectLockConfiguration)` };
  } catch (error) {
    return { on: false, reason: `GetObjectLockConfiguration on bucket '${bucket}' answered ${describeSdkError(error)}` };
  }
}
