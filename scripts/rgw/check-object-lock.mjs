#!/usr/bin/env node
// check-object-lock.mjs: prove that an S3 endpoint (Ceph RGW from run-rgw.sh) really does
// bucket versioning and S3 Object Lock, plus the S3 features dr-drill leans on
// (multipart upload, paginated listing, batch delete, version listing).
//
//   cd /work/main && node scripts/rgw/check-object-lock.mjs [ENDPOINT]
//     ENDPOINT default http://127.0.0.1:4566; credentials test/test (S3_ACCESS_KEY,
//     S3_SECRET_KEY override), region us-east-1, path-style.
//
// Prints one PASS/FAIL line per item (details after the dash; INFO lines are observations
// about SDK/RGW compatibility, not counted), and exits 1
// if any item failed. Every bucket it makes has a fresh name; nothing is cleaned up
// (locked objects cannot be, by design; the cluster is throwaway).
import {
  S3Client,
  CreateBucketCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  PutObjectLockConfigurationCommand,
  PutObjectCommand,
  HeadObjectCommand,
  GetObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  PutObjectRetentionCommand,
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHash, randomBytes } from "node:crypto";

const endpoint = process.argv[2] ?? "http://127.0.0.1:4566";
const credentials = {
  accessKeyId: process.env.S3_ACCESS_KEY ?? "test",
  secretAccessKey: process.env.S3_SECRET_KEY ?? "test",
};
const base = { endpoint, region: "us-east-1", forcePathStyle: true, credentials, maxAttempts: 1 };
// The SDK's default: requestChecksumCalculation / responseChecksumValidation "WHEN_SUPPORTED"
// (a CRC32 on every request that can carry one).
const s3 = new S3Client(base);
// Checksums only where the operation demands one.
const s3Required = new S3Client({
  ...base,
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});

let failures = 0;
const results = [];
const t0 = Date.now();
// INFO lines: observations about SDK/RGW compatibility, not counted as PASS or FAIL.
const info = (msg) => console.log(`INFO ${msg}`);
function report(ok, name, detail = "") {
  if (!ok) failures++;
  results.push({ ok, name });
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
}
// check(name, fn): fn returns a detail string (PASS) or throws (FAIL).
async function check(name, fn) {
  const t = Date.now();
  try {
    const detail = await fn();
    report(true, name, `${detail ?? ""} (${Date.now() - t} ms)`.trim());
  } catch (error) {
    report(false, name, `${describe(error)} (${Date.now() - t} ms)`);
  }
}
function describe(error) {
  if (error?.$metadata) {
    return `${error.name} code=${error.Code ?? error.name} http=${error.$metadata.httpStatusCode} message=${JSON.stringify(error.message)}`;
  }
  return String(error?.stack ?? error);
}
// expectRefusal(promise): the request must fail; returns the error's description.
async function expectRefusal(promise) {
  let result;
  try {
    result = await promise;
  } catch (error) {
    if (!error?.$metadata) throw error;
    return describe(error);
  }
  throw new Error(`request was NOT refused: ${JSON.stringify(stripMeta(result))}`);
}
const stripMeta = (result) => Object.fromEntries(Object.entries(result).filter(([name]) => name !== "$metadata"));
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const sha = (b) => createHash("sha256").update(b).digest("hex").slice(0, 16);
const md5b64 = (b) => createHash("md5").update(b).digest("base64");
async function bytesOf(resp) {
  return Buffer.from(await resp.Body.transformToByteArray());
}
const minutes = (n) => new Date(Date.now() + n * 60_000);
const stamp = `${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;
const lockBucket = `lock-${stamp}`;
const plainBucket = `plain-${stamp}`;

console.log(`endpoint ${endpoint}, lock bucket ${lockBucket}, plain bucket ${plainBucket}`);

// 1. bucket with Object Lock ------------------------------------------------------------
await check("CreateBucket ObjectLockEnabledForBucket=true", async () => {
  await s3.send(new CreateBucketCommand({ Bucket: lockBucket, ObjectLockEnabledForBucket: true }));
  return lockBucket;
});
await check("GetBucketVersioning = Enabled", async () => {
  const r = await s3.send(new GetBucketVersioningCommand({ Bucket: lockBucket }));
  assert(r.Status === "Enabled", `Status=${r.Status}`);
  return `Status=${r.Status}`;
});
await check("GetObjectLockConfiguration ObjectLockEnabled = Enabled", async () => {
  const r = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: lockBucket }));
  assert(r.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled", JSON.stringify(r.ObjectLockConfiguration));
  return JSON.stringify(r.ObjectLockConfiguration);
});

// 2. default retention rule -------------------------------------------------------------
const defaultRule = {
  Bucket: lockBucket,
  ObjectLockConfiguration: { ObjectLockEnabled: "Enabled", Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 1 } } },
};
await check("PutObjectLockConfiguration GOVERNANCE 1 day (checksum default: WHEN_SUPPORTED)", async () => {
  await s3.send(new PutObjectLockConfigurationCommand(defaultRule));
  const r = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: lockBucket }));
  const d = r.ObjectLockConfiguration?.Rule?.DefaultRetention;
  assert(d?.Mode === "GOVERNANCE" && d?.Days === 1, JSON.stringify(r.ObjectLockConfiguration));
  return `read back ${JSON.stringify(d)}`;
});
await check("PutObjectLockConfiguration again with requestChecksumCalculation=WHEN_REQUIRED", async () => {
  await s3Required.send(new PutObjectLockConfigurationCommand(defaultRule));
  return "accepted";
});

// 3. COMPLIANCE object, explicit retention ----------------------------------------------
const key = "locked/compliance.txt";
const original = Buffer.from(`original bytes ${stamp}\n`);
let retainUntil = minutes(10);
let v1;
await check("PutObject COMPLIANCE +10 min, checksum default (WHEN_SUPPORTED: x-amz-checksum-crc32)", async () => {
  const r = await s3.send(new PutObjectCommand({
    Bucket: lockBucket, Key: key, Body: original,
    ObjectLockMode: "COMPLIANCE", ObjectLockRetainUntilDate: retainUntil,
  }));
  v1 = r.VersionId;
  assert(v1, "no VersionId returned");
  return `VersionId=${v1} ChecksumCRC32 echoed=${r.ChecksumCRC32 ?? "(none)"}`;
});
await check("PutObject COMPLIANCE +10 min, requestChecksumCalculation=WHEN_REQUIRED (no checksum, no Content-MD5)", async () => {
  const r = await s3Required.send(new PutObjectCommand({
    Bucket: lockBucket, Key: "locked/compliance-when-required.txt", Body: original,
    ObjectLockMode: "COMPLIANCE", ObjectLockRetainUntilDate: minutes(10),
  }));
  return `VersionId=${r.VersionId}`;
});
await check("PutObject COMPLIANCE +10 min, WHEN_REQUIRED + explicit ContentMD5", async () => {
  const r = await s3Required.send(new PutObjectCommand({
    Bucket: lockBucket, Key: "locked/compliance-md5.txt", Body: original, ContentMD5: md5b64(original),
    ObjectLockMode: "COMPLIANCE", ObjectLockRetainUntilDate: minutes(10),
  }));
  return `VersionId=${r.VersionId}`;
});
await check("PutObject with a wrong ContentMD5 is rejected (server checks MD5)", async () => {
  return await expectRefusal(s3Required.send(new PutObjectCommand({
    Bucket: lockBucket, Key: "locked/bad-md5.txt", Body: original, ContentMD5: md5b64(Buffer.from("other")),
  })));
});
await check("HeadObject shows COMPLIANCE and retain-until", async () => {
  const r = await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key: key, VersionId: v1 }));
  assert(r.ObjectLockMode === "COMPLIANCE", `ObjectLockMode=${r.ObjectLockMode}`);
  const got = r.ObjectLockRetainUntilDate?.getTime();
  assert(got && Math.abs(got - retainUntil.getTime()) < 1500, `RetainUntil=${r.ObjectLockRetainUntilDate?.toISOString()} want ${retainUntil.toISOString()}`);
  return `ObjectLockMode=${r.ObjectLockMode} RetainUntil=${r.ObjectLockRetainUntilDate.toISOString()} LegalHold=${r.ObjectLockLegalHoldStatus ?? "(absent)"}`;
});
await check("GetObjectRetention", async () => {
  const r = await s3.send(new GetObjectRetentionCommand({ Bucket: lockBucket, Key: key, VersionId: v1 }));
  assert(r.Retention?.Mode === "COMPLIANCE", JSON.stringify(r.Retention));
  return JSON.stringify(r.Retention);
});
await check("DeleteObject VersionId of COMPLIANCE object is refused", async () => {
  return await expectRefusal(s3.send(new DeleteObjectCommand({ Bucket: lockBucket, Key: key, VersionId: v1 })));
});
await check("DeleteObject VersionId of COMPLIANCE object + BypassGovernanceRetention is refused", async () => {
  return await expectRefusal(s3.send(new DeleteObjectCommand({ Bucket: lockBucket, Key: key, VersionId: v1, BypassGovernanceRetention: true })));
});
await check("PutObjectRetention shortening COMPLIANCE (+5 min) is refused", async () => {
  return await expectRefusal(s3.send(new PutObjectRetentionCommand({
    Bucket: lockBucket, Key: key, VersionId: v1, Retention: { Mode: "COMPLIANCE", RetainUntilDate: minutes(5) },
  })));
});
await check("PutObjectRetention COMPLIANCE -> GOVERNANCE is refused", async () => {
  return await expectRefusal(s3.send(new PutObjectRetentionCommand({
    Bucket: lockBucket, Key: key, VersionId: v1, Retention: { Mode: "GOVERNANCE", RetainUntilDate: minutes(30) },
  })));
});
await check("PutObjectRetention extending COMPLIANCE (+20 min) is allowed", async () => {
  const longer = minutes(20);
  await s3.send(new PutObjectRetentionCommand({
    Bucket: lockBucket, Key: key, VersionId: v1, Retention: { Mode: "COMPLIANCE", RetainUntilDate: longer },
  }));
  const r = await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key: key, VersionId: v1 }));
  assert(Math.abs(r.ObjectLockRetainUntilDate.getTime() - longer.getTime()) < 1500, `RetainUntil=${r.ObjectLockRetainUntilDate.toISOString()}`);
  retainUntil = longer;
  return `now ${r.ObjectLockRetainUntilDate.toISOString()}`;
});

// 4. overwrite -> new version, old one intact ------------------------------------------
let v2;
await check("PutObject same key creates a NEW version; old VersionId still returns the original bytes", async () => {
  const replacement = Buffer.from(`replacement ${stamp}\n`);
  const r = await s3.send(new PutObjectCommand({ Bucket: lockBucket, Key: key, Body: replacement }));
  v2 = r.VersionId;
  assert(v2 && v2 !== v1, `new VersionId ${v2} vs old ${v1}`);
  const latest = await bytesOf(await s3.send(new GetObjectCommand({ Bucket: lockBucket, Key: key })));
  assert(latest.equals(replacement), "latest is not the replacement");
  const old = await bytesOf(await s3.send(new GetObjectCommand({ Bucket: lockBucket, Key: key, VersionId: v1 })));
  assert(old.equals(original), "old version bytes differ");
  const h = await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key: key, VersionId: v2 }));
  return `v2=${v2}; v2 got default retention ${h.ObjectLockMode} until ${h.ObjectLockRetainUntilDate?.toISOString()}`;
});

// 5. delete marker ---------------------------------------------------------------------
await check("DeleteObject without VersionId creates a delete marker; locked version stays readable", async () => {
  const r = await s3.send(new DeleteObjectCommand({ Bucket: lockBucket, Key: key }));
  assert(r.DeleteMarker === true, `DeleteMarker=${r.DeleteMarker}`);
  let hidden;
  try {
    await s3.send(new GetObjectCommand({ Bucket: lockBucket, Key: key }));
    hidden = "GET without version still returned the object";
  } catch (error) {
    hidden = `GET latest -> ${error.name} http=${error.$metadata?.httpStatusCode}`;
  }
  const old = await bytesOf(await s3.send(new GetObjectCommand({ Bucket: lockBucket, Key: key, VersionId: v1 })));
  assert(old.equals(original), "locked version bytes differ");
  return `marker VersionId=${r.VersionId}; ${hidden}; GET v1 OK`;
});

// 6. GOVERNANCE --------------------------------------------------------------------------
async function governanceCase(label, putExtra) {
  const gkey = `locked/governance-${label}.txt`;
  let gv;
  await check(`PutObject GOVERNANCE (${label})`, async () => {
    const r = await s3.send(new PutObjectCommand({ Bucket: lockBucket, Key: gkey, Body: Buffer.from(label), ...putExtra }));
    gv = r.VersionId;
    const h = await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key: gkey, VersionId: gv }));
    assert(h.ObjectLockMode === "GOVERNANCE", `ObjectLockMode=${h.ObjectLockMode}`);
    return `VersionId=${gv} mode=${h.ObjectLockMode} until ${h.ObjectLockRetainUntilDate?.toISOString()}`;
  });
  await check(`DeleteObject VersionId of GOVERNANCE object (${label}) without bypass is refused`, async () => {
    return await expectRefusal(s3.send(new DeleteObjectCommand({ Bucket: lockBucket, Key: gkey, VersionId: gv })));
  });
  await check(`PutObjectRetention shortening GOVERNANCE (${label}) without bypass is refused`, async () => {
    return await expectRefusal(s3.send(new PutObjectRetentionCommand({
      Bucket: lockBucket, Key: gkey, VersionId: gv, Retention: { Mode: "GOVERNANCE", RetainUntilDate: minutes(1) },
    })));
  });
  await check(`DeleteObject VersionId of GOVERNANCE object (${label}) with BypassGovernanceRetention is allowed (owner)`, async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: lockBucket, Key: gkey, VersionId: gv, BypassGovernanceRetention: true }));
    try {
      await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key: gkey, VersionId: gv }));
    } catch (error) {
      return `deleted; HEAD of that version -> ${error.name} http=${error.$metadata?.httpStatusCode}`;
    }
    throw new Error("version still there after a delete that returned success");
  });
}
await governanceCase("default-rule", {});
await governanceCase("explicit", { ObjectLockMode: "GOVERNANCE", ObjectLockRetainUntilDate: minutes(60) });

// 7. multipart (lib-storage) into the lock bucket ---------------------------------------
async function multipart(client, label) {
  const body = randomBytes(20 * 1024 * 1024);
  const mkey = `multipart/${label}.bin`;
  await check(`lib-storage Upload 20 MiB, 8 MiB parts, into the lock bucket (${label})`, async () => {
    const up = new Upload({ client, params: { Bucket: lockBucket, Key: mkey, Body: body }, partSize: 8 * 1024 * 1024, queueSize: 4 });
    let parts = 0;
    up.on("httpUploadProgress", (p) => { if (p.part) parts = Math.max(parts, p.part); });
    const r = await up.done();
    const h = await s3.send(new HeadObjectCommand({ Bucket: lockBucket, Key: mkey, VersionId: r.VersionId }));
    const back = await bytesOf(await client.send(new GetObjectCommand({ Bucket: lockBucket, Key: mkey, VersionId: r.VersionId })));
    assert(back.equals(body), `read back ${back.length} bytes sha ${sha(back)} != ${sha(body)}`);
    if (!r.ETag) info(`CompleteMultipartUpload answered an empty <ETag></ETag> (${label}); HeadObject ETag=${h.ETag} (known RGW 16.2 bug)`);
    return `parts=${parts} ETag=${r.ETag} VersionId=${r.VersionId} size=${h.ContentLength} lock=${h.ObjectLockMode ?? "none"} until ${h.ObjectLockRetainUntilDate?.toISOString() ?? "-"}; bytes match`;
  });
}
await multipart(s3, "checksum-default");
await multipart(s3Required, "when-required");

// 8. 1,200 keys: paginated ListObjectsV2, DeleteObjects batch ---------------------------
await check("CreateBucket (plain) + PutObject 1,200 keys", async () => {
  await s3.send(new CreateBucketCommand({ Bucket: plainBucket }));
  const keys = Array.from({ length: 1200 }, (_, i) => `many/${String(i).padStart(5, "0")}.txt`);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const k = keys[next++];
      await s3.send(new PutObjectCommand({ Bucket: plainBucket, Key: k, Body: Buffer.from(k) }));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return "1200 objects, 16 at a time";
});
async function listAll(maxKeys) {
  const keys = [];
  let token;
  let pages = 0;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: plainBucket, Prefix: "many/", ContinuationToken: token, MaxKeys: maxKeys }));
    pages++;
    for (const o of r.Contents ?? []) keys.push(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return { keys, pages };
}
await check("ListObjectsV2 paginated (default MaxKeys) returns all 1,200", async () => {
  const { keys, pages } = await listAll(undefined);
  assert(keys.length === 1200 && new Set(keys).size === 1200, `got ${keys.length} keys (${new Set(keys).size} distinct)`);
  return `${keys.length} keys in ${pages} pages`;
});
await check("ListObjectsV2 paginated (MaxKeys=250) returns all 1,200 in order", async () => {
  const { keys, pages } = await listAll(250);
  assert(keys.length === 1200 && pages === 5, `got ${keys.length} keys in ${pages} pages`);
  assert(keys.every((k, i) => i === 0 || keys[i - 1] < k), "keys out of order");
  return `${keys.length} keys in ${pages} pages`;
});
for (const [label, client] of [["checksum default", s3], ["WHEN_REQUIRED", s3Required]]) {
  await check(`DeleteObjects batch of 600 (${label})`, async () => {
    const { keys } = await listAll(undefined);
    const batch = keys.slice(0, 600);
    const r = await client.send(new DeleteObjectsCommand({ Bucket: plainBucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: false } }));
    assert((r.Errors ?? []).length === 0, `Errors: ${JSON.stringify(r.Errors?.slice(0, 3))}`);
    assert((r.Deleted ?? []).length === 600, `Deleted ${r.Deleted?.length}`);
    const after = await listAll(undefined);
    return `deleted ${r.Deleted.length}, ${after.keys.length} left`;
  });
}
await check("DeleteObjects with VersionIds in the lock bucket: locked versions reported per key", async () => {
  const r = await s3.send(new DeleteObjectsCommand({
    Bucket: lockBucket, Delete: { Objects: [{ Key: key, VersionId: v1 }, { Key: key, VersionId: v2 }] },
  }));
  const errs = (r.Errors ?? []).map((e) => `${e.Key}@${e.VersionId}: ${e.Code} ${JSON.stringify(e.Message ?? "")}`);
  assert(errs.length === 2, `expected 2 per-key errors, got Deleted=${JSON.stringify(r.Deleted)} Errors=${JSON.stringify(r.Errors)}`);
  return `http=${r.$metadata.httpStatusCode}; ${errs.join("; ")}`;
});

// 9. ListObjectVersions ----------------------------------------------------------------
await check("ListObjectVersions shows both versions and the delete marker", async () => {
  const r = await s3.send(new ListObjectVersionsCommand({ Bucket: lockBucket, Prefix: key }));
  const versions = (r.Versions ?? []).map((v) => v.VersionId);
  const markers = (r.DeleteMarkers ?? []).map((m) => `${m.VersionId}${m.IsLatest ? "(latest)" : ""}`);
  assert(versions.includes(v1) && versions.includes(v2), `versions ${versions}`);
  assert(markers.length === 1, `delete markers ${markers}`);
  return `versions=[${versions.join(", ")}] deleteMarkers=[${markers.join(", ")}]`;
});
await check("ListObjectVersions over the whole lock bucket", async () => {
  const r = await s3.send(new ListObjectVersionsCommand({ Bucket: lockBucket }));
  return `${(r.Versions ?? []).length} versions, ${(r.DeleteMarkers ?? []).length} delete markers`;
});

// 10. SDK/RGW compatibility probes (INFO, not counted) ----------------------------------
// A Readable body makes the SDK (checksum default) send aws-chunked with a trailing CRC32
// (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER), which RGW 16.2 predates.
const { Readable } = await import("node:stream");
for (const [label, client] of [["checksum default", s3], ["WHEN_REQUIRED", s3Required]]) {
  for (const withLength of [true, false]) {
    const what = `PutObject Readable body ${withLength ? "with" : "without"} ContentLength (${label})`;
    try {
      await client.send(new PutObjectCommand({
        Bucket: plainBucket, Key: `stream/${label}-${withLength}`,
        Body: Readable.from([Buffer.from("hello "), Buffer.from("world")]), ...(withLength ? { ContentLength: 11 } : {}),
      }));
      info(`${what}: accepted`);
    } catch (error) {
      info(`${what}: ${error.$metadata ? describe(error) : String(error.message ?? error)}`);
    }
  }
}

const passed = results.filter((r) => r.ok).length;
console.log(`\n${passed} passed, ${failures} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(failures ? 1 : 0);
