// Tampered and mis-dated backups against a real S3 endpoint and real servers: a swapped
// manifest, a refs list that lost a line, a backup dated in the future, and verify with no
// key. Each must be set aside or fail loudly, and nothing a good backup needs may be deleted.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyRetention,
  backupMedia,
  backupPostgres,
  backupRedis,
  planComponentRetention,
  restoreMedia,
  verifyBackup,
} from "../src/components/index.ts";
import { makeTempDir, removeTempDir } from "../src/lifecycle/index.ts";
import {
  type BackupManifest,
  MANIFEST_DIGEST_METADATA,
  backupFolder,
  findLatestBackup,
  listBackups,
  listCompleteBackups,
  makeBackupId,
  manifestKey,
  mediaRefsKey,
  readManifest,
  writeManifest,
} from "../src/manifest/index.ts";
import { sha256Hex } from "../src/streams/hash-stream.ts";
import { listKeys, startNativeFixture, type NativeFixture } from "./helpers/native-fixture.ts";
import { drErrorOf } from "../src/errors/dr-error-of.ts";

let fx: NativeFixture;

beforeAll(async () => {
  fx = await startNativeFixture(5e6);
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});


/** An object's bytes. */
async function read(key: string): Promise<Buffer> {
  return await buffer(await fx.storage.get(key));
}

const YEAR = 365 * 86_400_000;

describe("a manifest swapped for an old backup's", () => {
  it("is set aside as invalid, and the real newest backup stays the latest", async () => {
    const old = await backupPostgres(fx.ctx());
    const newest = await backupPostgres(fx.ctx());
    expect((await findLatestBackup(fx.storage, "postgres")).id).toBe(newest.id);

    // The swap of the issue: the old manifest, relabelled with the new id, put in the new
    // backup's place with the object's metadata copied along (as an S3 copy keeps it).
    const original = await read(manifestKey(newest.id));
    const originalInfo = (await fx.storage.stat(manifestKey(newest.id)))!;
    const relabelled = `${JSON.stringify({ ...old, id: newest.id }, null, 2)}\n`;
    await fx.storage.put(manifestKey(newest.id), relabelled, { metadata: originalInfo.metadata });
    try {
      const entries = await listBackups(fx.storage, "postgres");
      expect(entries.map((e) => [e.id, e.status])).toEqual([[old.id, "complete"], [newest.id, "invalidManifest"]]);
      expect(entries[1]!.problem).toBe(`unable to trust manifest of backup '${newest.id}': its SHA-256 ${sha256Hex(relabelled)} is not the ${originalInfo.metadata[MANIFEST_DIGEST_METADATA]} recorded when it was written: it was altered or replaced`);
      // verify --latest and restore --latest pick the real backup, which verifies.
      const latest = await findLatestBackup(fx.storage, "postgres");
      expect(latest.id).toBe(old.id);
      expect((await verifyBackup({ storage: fx.storage, manifest: latest, identities: [fx.identity] })).ok).toBe(true);
      // Named explicitly, it is refused with the reason.
      const err = await drErrorOf(readManifest(fx.storage, newest.id));
      expect(err.code).toBe("INTEGRITY_FAILED");
      expect(err.message).toBe(entries[1]!.problem);
      expect(err.hint).toContain("do not restore from this backup");

      // A forger who also rewrites the digest: the manifest still points into the old folder.
      await fx.storage.put(manifestKey(newest.id), relabelled, { metadata: { ...originalInfo.metadata, [MANIFEST_DIGEST_METADATA]: sha256Hex(relabelled) } });
      const again = (await listBackups(fx.storage, "postgres")).at(-1)!;
      expect(again.status).toBe("invalidManifest");
      expect(again.problem).toBe(`unable to trust manifest of backup '${newest.id}': it started at ${old.startedAt}, but its id says ${newest.startedAt}`);
      // ... and with its times moved to the new id's too, by its parts.
      const retimed = `${JSON.stringify({ ...old, id: newest.id, startedAt: newest.startedAt, finishedAt: newest.finishedAt, consistentAt: newest.consistentAt }, null, 2)}\n`;
      await fx.storage.put(manifestKey(newest.id), retimed, { metadata: { [MANIFEST_DIGEST_METADATA]: sha256Hex(retimed) } });
      const retimedEntry = (await listBackups(fx.storage, "postgres")).at(-1)!;
      expect(retimedEntry.status).toBe("invalidManifest");
      expect(retimedEntry.problem).toBe(`unable to trust manifest of backup '${newest.id}': its part '${old.parts[0]!.key}' lies outside the backup's folder '${backupFolder(newest.id)}'`);
      expect((await listCompleteBackups(fx.storage, "postgres")).map((m) => m.id)).toEqual([old.id]);
      // Verifying the swapped manifest as the caller holds it fails on the stored one.
      const swapped = { ...old, id: newest.id, startedAt: newest.startedAt, finishedAt: newest.finishedAt, consistentAt: newest.consistentAt };
      const result = await verifyBackup({ storage: fx.storage, manifest: swapped, identities: [fx.identity] });
      expect(result.verdict).toBe("failed");
      expect(result.checks.at(-1)!.detail).toBe(retimedEntry.problem);
    } finally {
      await fx.storage.put(manifestKey(newest.id), original, { metadata: originalInfo.metadata });
    }
    expect((await findLatestBackup(fx.storage, "postgres")).id).toBe(newest.id);
  });
});

describe("a media refs list that lost a line", () => {
  it("fails verify, makes prune delete no content object, and the snapshot still restores", async () => {
    const older = await backupMedia(fx.ctx());
    const newest = await backupMedia(fx.ctx());
    expect(newest.parts.map((p) => p.key)).toEqual([`${backupFolder(newest.id)}files.json.age`, mediaRefsKey(newest.id)]);
    const refsKey = mediaRefsKey(newest.id);
    const saved = await read(refsKey);
    const lines = saved.toString("utf8").split("\n").filter(Boolean);
    const dropped = lines[Math.floor(lines.length / 2)]!;
    const cut = `${lines.filter((line) => line !== dropped).join("\n")}\n`;
    await fx.storage.put(refsKey, cut);

    // verify, with and without the key, names the list and both hashes.
    const refsPart = newest.parts[1]!;
    const mismatch = `unable to verify refs list of snapshot '${newest.id}': SHA-256 mismatch on '${refsKey}': expected ${refsPart.sha256} (${refsPart.size} bytes), got ${sha256Hex(cut)} (${Buffer.byteLength(cut)} bytes)`;
    const verified = await verifyBackup({ storage: fx.storage, manifest: newest, identities: [fx.identity] });
    expect(verified.ok).toBe(false);
    expect(verified.checks.at(-1)).toEqual({ name: "verify", status: "failed", detail: mismatch });
    const keyless = await verifyBackup({ storage: fx.storage, manifest: newest, identities: [] });
    expect(keyless.verdict).toBe("failed");
    expect(keyless.checks.at(-1)!.detail).toBe(mismatch);

    // prune media: the older snapshot goes, every content object stays.
    const objects = await listKeys(fx.storage, "media/objects/");
    expect(objects).toContain(dropped);
    const outcome = await applyRetention(fx.storage, await planComponentRetention(fx.storage, "media", { ...fx.config.schedule.media, retentionMs: 0 }));
    expect(outcome.orphansDeleted).toBe(0);
    expect(outcome.orphanNote).toBe(`snapshot ${newest.id}'s refs list does not verify: ${mismatch}; unreferenced media objects kept`);
    expect(await listKeys(fx.storage, "media/objects/")).toEqual(objects);
    expect((await listBackups(fx.storage, "media")).map((e) => e.id)).toEqual([newest.id]);
    expect(await listKeys(fx.storage, backupFolder(older.id))).toEqual([]);

    const dir = await makeTempDir("integrity-media");
    try {
      const restored = await restoreMedia({ storage: fx.storage, manifest: newest, identities: [fx.identity] }, join(dir, "media"));
      expect(restored.files).toBe(newest.media!.files);
      expect(restored.bytes).toBe(newest.media!.bytes);
      expect((await readdir(join(dir, "media"), { recursive: true })).length).toBeGreaterThanOrEqual(newest.media!.files);
    } finally {
      await removeTempDir(dir);
    }

    // A backup that wrote a refs list short of a key, its hash recorded as is (a bug, not an
    // alteration): verify with the key compares it with the file list and fails.
    const short = { ...refsPart, size: Buffer.byteLength(cut), sha256: sha256Hex(cut), plainSize: Buffer.byteLength(cut), plainSha256: sha256Hex(cut) };
    const buggy = { ...newest, parts: [newest.parts[0]!, short] };
    await writeManifest(fx.storage, buggy);
    const disagreeing = await verifyBackup({ storage: fx.storage, manifest: buggy, identities: [fx.identity] });
    expect(disagreeing.checks.at(-1)).toEqual({
      name: "verify",
      status: "failed",
      detail: `unable to verify backup '${newest.id}': its refs list disagrees with its file list: 1 content object(s) of the file list are not in the refs list (${dropped})`,
    });

    // Repaired, the list verifies again.
    await writeManifest(fx.storage, newest);
    await fx.storage.put(refsKey, saved);
    expect((await verifyBackup({ storage: fx.storage, manifest: newest, identities: [fx.identity] })).ok).toBe(true);
  });
});

describe("a backup dated in the future", () => {
  /** A forged copy of a real backup, a year ahead, made to pass every integrity check. */
  async function forgeFuture(real: BackupManifest): Promise<BackupManifest> {
    const started = new Date(Date.parse(real.startedAt) + YEAR);
    const id = makeBackupId(real.component, started);
    const parts = [];
    for (const part of real.parts) {
      const key = part.key.replace(backupFolder(real.id), backupFolder(id));
      await fx.storage.put(key, await read(part.key));
      parts.push({ ...part, key });
    }
    const forged: BackupManifest = {
      ...real, id, parts,
      startedAt: started.toISOString(),
      finishedAt: new Date(Date.parse(real.finishedAt) + YEAR).toISOString(),
      consistentAt: new Date(Date.parse(real.consistentAt) + YEAR).toISOString(),
    };
    await writeManifest(fx.storage, forged);
    return forged;
  }

  it("is flagged, never the latest, and retention neither counts it as the newest nor deletes it", async () => {
    const old = await backupRedis(fx.ctx());
    const real = await backupRedis(fx.ctx());
    const future = await forgeFuture(real);

    const now = new Date();
    const entries = await listBackups(fx.storage, "redis", now);
    expect(entries.map((e) => [e.id, e.status])).toEqual([[old.id, "complete"], [real.id, "complete"], [future.id, "futureDated"]]);
    expect(entries[2]!.problem).toMatch(new RegExp(`^backup '${future.id}' is dated in the future: finished ${future.finishedAt}, 36[45]d( \\d+h)?( \\d+m)? after this machine's clock \\(`));
    // verify --latest, restore --latest and the drill take the real newest one.
    expect((await findLatestBackup(fx.storage, "redis")).id).toBe(real.id);
    const complete = await listCompleteBackups(fx.storage, "redis");
    expect(complete.map((m) => m.id)).toEqual([old.id, real.id]);
    // No complete backup has a negative age (the drill's RPO reads the newest one's).
    for (const m of complete) expect(Date.now() - Date.parse(m.consistentAt)).toBeGreaterThanOrEqual(0);
    // Verifying it explicitly fails on its dates, though its bytes are fine.
    const result = await verifyBackup({ storage: fx.storage, manifest: future, identities: [fx.identity], now });
    expect(result.verdict).toBe("failed");
    expect(result.checks[0]).toEqual({ name: "manifest", status: "failed", detail: entries[2]!.problem });
    expect(result.checks.filter((c) => c.status === "failed")).toHaveLength(1);

    // A retention shorter than the minute since the real backup: only the older one goes.
    const plan = await planComponentRetention(fx.storage, "redis", { ...fx.config.schedule.redis, retentionMs: 1 });
    expect(plan.kept).toEqual([real.id]);
    expect(plan.deletions.map((d) => d.id)).toEqual([old.id]);
    expect(plan.held.map((h) => [h.id, h.status])).toEqual([[future.id, "futureDated"]]);
    await applyRetention(fx.storage, plan);
    expect((await listBackups(fx.storage, "redis")).map((e) => e.id)).toEqual([real.id, future.id]);
    expect(await listKeys(fx.storage, backupFolder(real.id))).toEqual([real.parts[0]!.key, manifestKey(real.id)].sort());
    expect((await verifyBackup({ storage: fx.storage, manifest: real, identities: [fx.identity] })).ok).toBe(true);
  });

  it("a media backup taken while the clock ran a year ahead hides no real snapshot", async () => {
    const real = await backupMedia(fx.ctx());
    const jumped = await backupMedia(fx.ctx({ now: () => new Date(Date.now() + YEAR) }));
    const entries = await listBackups(fx.storage, "media");
    expect(entries.at(-1)!.id).toBe(jumped.id);
    expect(entries.at(-1)!.status).toBe("futureDated");
    expect((await findLatestBackup(fx.storage, "media")).id).toBe(real.id);
    const plan = await planComponentRetention(fx.storage, "media", { ...fx.config.schedule.media, retentionMs: 0 }, new Date(), { previewOrphans: true });
    expect(plan.kept).toEqual([real.id]);
    expect(plan.held.map((h) => h.id)).toEqual([jumped.id]);
    expect(plan.deletions.map((d) => d.id)).not.toContain(real.id);
    // Its refs verify like any other snapshot's, so its objects are counted as referenced.
    expect(plan.orphanNote).toBeUndefined();
  });
});

describe("verify without the age identity", () => {
  it("does not pass an encrypted backup it could not decrypt", async () => {
    const manifest = await backupRedis(fx.ctx());
    const result = await verifyBackup({ storage: fx.storage, manifest, identities: [] });
    expect(result.ok).toBe(false);
    expect(result.verdict).toBe("not verified");
    expect(result.checks.map((c) => [c.name, c.status])).toEqual([["manifest", "ok"], ["stored SHA-256", "ok"], ["decrypt and read", "not verified"]]);
    expect(result.checks.at(-1)!.detail).toContain("DR_AGE_IDENTITY_FILE");
    // With the key, the same backup passes.
    expect((await verifyBackup({ storage: fx.storage, manifest, identities: [fx.identity] })).verdict).toBe("passed");
  });

  it("passes a plaintext backup, which needs no key to be read", async () => {
    const manifest = await backupRedis(fx.ctx({ recipients: [] }));
    const result = await verifyBackup({ storage: fx.storage, manifest, identities: [] });
    expect(result.verdict).toBe("passed");
    expect(result.checks.map((c) => c.name)).toEqual(["manifest", "SHA-256 (stored and plain)", "redis-check-rdb"]);
  });
});
