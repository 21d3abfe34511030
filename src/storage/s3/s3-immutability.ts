import { randomBytes } from "node:crypto";
import { sha256Hex } from "../../streams/hash-stream.ts";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
} from "@aws-sdk/client-s3";
import type { ObjectLockRetentionMode, S3Client } from "@aws-sdk/client-s3";
import type { ImmutabilityProbe, ImmutabilityReport, StorageCapabilities } from "../storage.ts";
import { describeSdkError } from "./s3-errors.ts";

/** Where probe objects go, under the storage prefix; they expire with their retention. */
export const PROBE_FOLDER = "_dr-drill/immutability/";
/** How long a probe stays locked: long enough for the checks, short enough to clean up after. */
const PROBE_RETENTION_MS = 60 * 60_000;

export interface ImmutabilityTarget {
  client: S3Client;
  bucket: string;
  /** Storage prefix inside the bucket ("" or ending in "/"). */
  prefix: string;
  capabilities: StorageCapabilities;
  now?: () => Date;
}

/**
 * Prove backups cannot be destroyed: each backup object must carry an Object Lock
 * retention that has not expired, and a probe object locked the same way (the bucket's
 * default mode) must survive a delete of its version, a shortened retention, an overwrite
 * and a plain delete. The probes never touch a real backup: if the lock is broken, only a
 * probe is lost. Probes whose retention has passed are removed first (best effort).
 */
export async function verifyS3Immutability(target: ImmutabilityTarget, backupKeys: readonly string[]): Promise<ImmutabilityReport> {
  const { client, bucket, capabilities } = target;
  if (!capabilities.objectLock) {
    const reason = capabilities.reasons?.objectLock ?? `bucket '${bucket}' has no Object Lock`;
    const versions = capabilities.versioning ? "versioning is on, so overwritten objects keep their old versions, but nothing stops a delete of a version" : capabilities.reasons?.versioning ?? "no versioning either";
    return { status: "not verified", detail: `${reason}; ${versions}`, backups: [], probes: [] };
  }
  const now = target.now ?? (() => new Date());
  await removeExpiredProbes(target, now());
  const rule = (await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration?.Rule?.DefaultRetention;
  const defaultRetention = rule?.Mode ? `${rule.Mode} ${rule.Days ? plural(rule.Days, "day") : plural(rule.Years ?? 0, "year")}` : undefined;

  const problems: string[] = [];
  const backups: ImmutabilityReport["backups"] = [];
  for (const key of backupKeys) {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: target.prefix + key }));
    const retainUntil = head.ObjectLockRetainUntilDate;
    backups.push({ key, mode: head.ObjectLockMode, retainUntil: retainUntil?.toISOString() });
    if (!head.ObjectLockMode || !retainUntil) problems.push(`backup '${key}' carries no Object Lock retention`);
    else if (retainUntil.getTime() <= now().getTime()) problems.push(`backup '${key}' retention expired at ${retainUntil.toISOString()}`);
  }
  if (!defaultRetention) problems.push(`bucket '${bucket}' has no default retention rule, so new backups are not locked`);

  const mode: ObjectLockRetentionMode = rule?.Mode ?? "COMPLIANCE";
  const probes = await attackProbe(target, mode, now());
  for (const probe of probes) if (probe.outcome === "allowed") problems.push(`${probe.attempt} was allowed: ${probe.detail}`);

  const governance = mode === "GOVERNANCE" ? "; GOVERNANCE mode: a principal with s3:BypassGovernanceRetention can still delete, COMPLIANCE mode cannot be bypassed" : "";
  const facts = `${backups.length} backup object(s) locked${defaultRetention ? `, bucket default ${defaultRetention}` : ""}; ${probes.filter((p) => p.outcome !== "allowed").length}/${probes.length} attacks on a ${mode} probe refused${governance}`;
  if (problems.length) return { status: "failed", detail: `${problems.join("; ")} (${facts})`, defaultRetention, backups, probes };
  return { status: "verified", detail: facts, defaultRetention, backups, probes };
}

/** The attacks, run on a fresh probe object; every one must be refused or leave the locked bytes intact. */
async function attackProbe(target: ImmutabilityTarget, mode: ObjectLockRetentionMode, at: Date): Promise<ImmutabilityProbe[]> {
  const { client, bucket } = target;
  const key = `${target.prefix}${PROBE_FOLDER}${at.toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}.probe`;
  const body = Buffer.from(`dr-drill immutability probe ${at.toISOString()} ${randomBytes(8).toString("hex")}\n`);
  const put = await client.send(new PutObjectCommand({
    Bucket: bucket,
    Key: key,
    Body: body,
    ObjectLockMode: mode,
    ObjectLockRetainUntilDate: new Date(at.getTime() + PROBE_RETENTION_MS),
  }));
  const versionId = put.VersionId;
  if (!versionId) return [{ attempt: "write a locked probe", outcome: "allowed", detail: "the endpoint returned no VersionId for an object in an Object Lock bucket" }];
  const sha = sha256Hex(body);
  const intact = async (): Promise<string | undefined> => {
    try {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      const read = Buffer.from(await answer.Body!.transformToByteArray());
      return sha256Hex(read) === sha ? undefined : `version ${versionId} now reads ${read.length} bytes with another SHA-256`;
    } catch (error) {
      return `version ${versionId} is gone: ${describeSdkError(error)}`;
    }
  };
  // An attack must be refused, or (overwrite, plain delete: S3 accepts those on a
  // versioned bucket) leave the locked version intact; either way the version is re-read.
  const attack = async (attempt: string, mayAccept: boolean, action: () => Promise<unknown>): Promise<ImmutabilityProbe> => {
    let refusal: string | undefined;
    try {
      await action();
    } catch (error) {
      refusal = describeSdkError(error);
    }
    const broken = await intact();
    if (broken) return { attempt, outcome: "allowed", detail: broken };
    if (refusal) return { attempt, outcome: "refused", detail: refusal };
    return mayAccept ? { attempt, outcome: "kept", detail: `version ${versionId} still reads back with its SHA-256` } : { attempt, outcome: "allowed", detail: "the endpoint accepted it" };
  };
  return [
    await attack("delete the locked version", false, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))),
    await attack("shorten its retention", false, () =>
      client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId, Retention: { Mode: mode, RetainUntilDate: new Date(at.getTime() + 1_000) } }))),
    await attack("overwrite the key", true, () => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "overwritten by dr-drill's immutability check\n" }))),
    await attack("delete the key (no version)", true, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))),
  ];
}

/** Delete probe versions and delete markers whose retention has passed (a refusal is left for next time). */
async function removeExpiredProbes(target: ImmutabilityTarget, now: Date): Promise<void> {
  const { client, bucket } = target;
  const cutoff = now.getTime() - PROBE_RETENTION_MS;
  try {
    const answer = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: target.prefix + PROBE_FOLDER, MaxKeys: 1000 }));
    const old = [...(answer.Versions ?? []), ...(answer.DeleteMarkers ?? [])].filter((v) => v.Key && v.VersionId && (v.LastModified?.getTime() ?? now.getTime()) < cutoff);
    for (const version of old) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId })).catch(() => undefined);
    }
  } catch {
    // Leftover probes are a few bytes each; the next run tries again.
  }
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}
