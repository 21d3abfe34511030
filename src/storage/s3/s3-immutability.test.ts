import type { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { verifyS3Immutability } from "./s3-immutability.ts";

/** How the fake endpoint misbehaves. */
interface Flaws {
  /** Deletes of a locked version succeed (and remove it). */
  deleteLocked?: boolean;
  /** Overwrites replace the bytes of the existing version instead of adding one. */
  overwriteInPlace?: boolean;
  /** No default retention rule on the bucket; backups carry no lock. */
  noDefaultRule?: boolean;
}

class Denied extends Error {
  override name = "AccessDenied";
  $metadata = { httpStatusCode: 403 };
}

/**
 * A versioned, Object Lock S3 bucket in memory, just enough for the checker (unit test
 * only; the real-server proof is suites/object-lock.test.ts against Ceph RGW).
 */
function fakeLockedBucket(flaws: Flaws = {}): S3Client {
  const versions = new Map<string, { id: string; body: Buffer; mode?: string; until?: Date }[]>();
  let next = 0;
  const locked = (v: { until?: Date }) => v.until !== undefined && v.until.getTime() > Date.now();
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const input = command.input;
    const key = input.Key as string;
    const list = versions.get(key) ?? [];
    switch (command.constructor.name) {
      case "GetObjectLockConfigurationCommand":
        return { ObjectLockConfiguration: { ObjectLockEnabled: "Enabled", ...(flaws.noDefaultRule ? {} : { Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 7 } } }) } };
      case "HeadObjectCommand":
        return flaws.noDefaultRule ? {} : { ObjectLockMode: "COMPLIANCE", ObjectLockRetainUntilDate: new Date(Date.now() + 7 * 86_400_000) };
      case "ListObjectVersionsCommand":
        return { Versions: [] };
      case "PutObjectCommand": {
        const body = Buffer.from(input.Body as string | Buffer);
        if (flaws.overwriteInPlace && list.length) {
          list[0]!.body = body;
          return { VersionId: list[0]!.id };
        }
        const version = { id: `v${next++}`, body, mode: input.ObjectLockMode as string | undefined, until: input.ObjectLockRetainUntilDate as Date | undefined };
        versions.set(key, [...list, version]);
        return { VersionId: version.id };
      }
      case "GetObjectCommand": {
        const version = list.find((v) => v.id === input.VersionId);
        if (!version) throw Object.assign(new Error("NoSuchVersion"), { name: "NoSuchVersion", $metadata: { httpStatusCode: 404 } });
        return { Body: { transformToByteArray: async () => version.body } };
      }
      case "DeleteObjectCommand": {
        if (input.VersionId === undefined) return { DeleteMarker: true };
        const version = list.find((v) => v.id === input.VersionId);
        if (version && locked(version) && !flaws.deleteLocked) throw new Denied("forbidden by object lock");
        versions.set(key, list.filter((v) => v.id !== input.VersionId));
        return {};
      }
      case "PutObjectRetentionCommand":
        throw new Denied("forbidden by object lock");
      default:
        throw new Error(`unexpected ${command.constructor.name}`);
    }
  };
  return { send } as unknown as S3Client;
}

const target = (client: S3Client, objectLock = true) => ({
  client,
  bucket: "b",
  prefix: "",
  capabilities: { versioning: objectLock, objectLock, multipart: true, reasons: objectLock ? {} : { objectLock: "fauxqs implements no S3 Object Lock" } },
});

describe("verifyS3Immutability", () => {
  it("verifies locked backups and four refused attacks", async () => {
    const report = await verifyS3Immutability(target(fakeLockedBucket()), ["postgres/x/db.dump.age"]);
    expect(report.status, report.detail).toBe("verified");
    expect(report.defaultRetention).toBe("COMPLIANCE 7 days");
    expect(report.backups[0]).toMatchObject({ key: "postgres/x/db.dump.age", mode: "COMPLIANCE" });
    expect(report.probes.map((p) => p.outcome)).toEqual(["refused", "refused", "kept", "kept"]);
    expect(report.probes[0]!.detail).toBe("AccessDenied (HTTP 403)");
  });

  it("fails when a locked version can be deleted", async () => {
    const report = await verifyS3Immutability(target(fakeLockedBucket({ deleteLocked: true })), []);
    expect(report.status).toBe("failed");
    expect(report.detail).toMatch(/^delete the locked version was allowed: version v0 is gone/);
  });

  it("fails when an overwrite changes the locked bytes", async () => {
    const report = await verifyS3Immutability(target(fakeLockedBucket({ overwriteInPlace: true })), []);
    expect(report.status).toBe("failed");
    expect(report.detail).toMatch(/overwrite the key was allowed: version v0 now reads/);
  });

  it("fails when backups carry no retention", async () => {
    const report = await verifyS3Immutability(target(fakeLockedBucket({ noDefaultRule: true })), ["redis/y/dump.rdb.age"]);
    expect(report.status).toBe("failed");
    expect(report.detail).toContain("backup 'redis/y/dump.rdb.age' carries no Object Lock retention");
    expect(report.detail).toContain("bucket 'b' has no default retention rule");
  });

  it("is not verified, with the endpoint's reason, without Object Lock", async () => {
    const report = await verifyS3Immutability(target(fakeLockedBucket(), false), ["k"]);
    expect(report).toMatchObject({ status: "not verified", probes: [] });
    expect(report.detail).toMatch(/^fauxqs implements no S3 Object Lock; /);
  });
});
