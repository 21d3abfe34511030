import { join } from "node:path";
import { Writable } from "node:stream";
import { DrError, messageOf } from "../errors/index.ts";
import { commandError, describeCommand, findBinary, startCommand } from "../exec/index.ts";
import { makeTempDir, removeTempDir } from "../lifecycle/index.ts";
import { type BackupManifest, backupFolder, findFutureDate, manifestKey, mediaRefsKey, readManifest } from "../manifest/index.ts";
import type { Storage } from "../storage/storage.ts";
import { discardSink } from "../streams/discard.ts";
import { hashStream } from "../streams/hash-stream.ts";
import { mapConcurrent } from "../util/map-concurrent.ts";
import { downloadPart, downloadPartToFile, partOf, type DownloadOptions } from "./download-part.ts";
import { compareRefsWithFiles, readRefsList } from "./media/media-lists.ts";
import { mediaFilePart, readSnapshotFileList } from "./media/media-restore.ts";
import { dumpSink } from "./postgres/dump-compression.ts";
import { checkRdbFile } from "./redis/redis-backup.ts";

/** One check of a verification. */
export interface CheckResult {
  name: string;
  /** `not verified` when the check could not run (with the reason in detail). */
  status: "ok" | "failed" | "not verified";
  detail: string;
}

/** The outcome of verifying one backup. */
export interface VerifyResult {
  id: string;
  component: BackupManifest["component"];
  /** True only when the verdict is passed: a backup that could not be read to the end is not proven. */
  ok: boolean;
  /** passed: every check ran and passed; failed: one failed; not verified: one could not run (its detail says why). */
  verdict: "passed" | "failed" | "not verified";
  checks: CheckResult[];
  durationMs: number;
}

export interface VerifyOptions {
  storage: Storage;
  manifest: BackupManifest;
  /** age identities; without them an encrypted backup is checked up to its stored hash, and is not verified. */
  identities: readonly string[];
  signal?: AbortSignal;
  /** The clock a future-dated backup is judged by (default: now). */
  now?: Date;
}

/** Stored SHA-256 of every part: what can be checked without the secret key. */
async function checkStoredOnly(options: VerifyOptions): Promise<CheckResult> {
  const details: string[] = [];
  for (const part of options.manifest.parts) {
    const { sha256, size } = await hashStream(await options.storage.get(part.key, { signal: options.signal }));
    if (size !== part.size || sha256 !== part.sha256) {
      throw new DrError("INTEGRITY_FAILED", `unable to verify backup '${options.manifest.id}': SHA-256 mismatch on '${part.key}': expected ${part.sha256}, got ${sha256}`);
    }
    details.push(`${part.key}: ${size} bytes, ${sha256.slice(0, 16)}…`);
  }
  return { name: "stored SHA-256", status: "ok", detail: details.join("; ") };
}

/**
 * The manifest as stored is intact and is this backup's (readManifest checks its digest,
 * folder and times), the one being verified is that one, and it is not dated in the future.
 */
async function checkManifest(options: VerifyOptions): Promise<CheckResult> {
  const { manifest } = options;
  const stored = await readManifest(options.storage, manifest.id);
  if (JSON.stringify(stored) !== JSON.stringify(manifest)) {
    throw new DrError("INTEGRITY_FAILED", `unable to verify backup '${manifest.id}': the manifest given differs from the one stored at '${manifestKey(manifest.id)}'`);
  }
  const future = findFutureDate(manifest, options.now ?? new Date());
  if (future) return { name: "manifest", status: "failed", detail: `backup '${manifest.id}' is ${future}` };
  return { name: "manifest", status: "ok", detail: `SHA-256 matches, ${manifest.parts.length} part(s) inside ${backupFolder(manifest.id)}, finished ${manifest.finishedAt}` };
}

/** The refs list retention trusts matches the SHA-256 in the manifest (no key needed). */
async function checkRefsList(options: VerifyOptions): Promise<{ check: CheckResult; refs: string[] }> {
  const refs = await readRefsList(options.storage, options.manifest, options.signal);
  return { check: { name: "refs list SHA-256", status: "ok", detail: `${mediaRefsKey(options.manifest.id)}: ${refs.length} content keys` }, refs };
}

/**
 * A sink feeding `target` until it closes (pg_restore --list stops reading after the table
 * of contents), then discarding: the download must still run to the end to check hashes.
 */
function feedUntilClosed(target: Writable): Writable {
  let open = true;
  target.on("error", () => {
    open = false;
  });
  target.on("close", () => {
    open = false;
  });
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!open) return callback();
      if (target.write(chunk)) return callback();
      const resume = () => {
        target.off("drain", resume);
        target.off("close", resume);
        callback();
      };
      target.once("drain", resume);
      target.once("close", resume);
    },
    final(callback) {
      if (open) target.end();
      callback();
    },
  });
}

/** `pg_restore --list` reads the dump's table of contents from stdin: a readable archive. */
async function listArchive(options: VerifyOptions, download: DownloadOptions): Promise<number> {
  const pgRestore = findBinary("pg_restore");
  const proc = startCommand(pgRestore, ["--list"], { timeoutMs: 6 * 3_600_000, signal: options.signal });
  // A failed download must not leave pg_restore waiting on its stdin.
  const fed = downloadPart(download, dumpSink(options.manifest, feedUntilClosed(proc.stdin!))).catch((error: unknown) => {
    proc.kill("SIGTERM");
    throw error;
  });
  const [, result] = await Promise.all([fed, proc]);
  if (result.failed) throw commandError(describeCommand(pgRestore, ["--list"]), result, String(result.stderr ?? ""));
  return String(result.stdout ?? "").split("\n").filter((line) => line.trim() && !line.startsWith(";")).length;
}

/**
 * Verify a stored backup end to end: its manifest (intact, its own, not future-dated),
 * re-download, check the stored SHA-256, decrypt, check the plain SHA-256, and ask the
 * format's own tool whether it is readable (`pg_restore --list`, `redis-check-rdb`, every
 * media file's hash, and the refs list against the file list). Never throws for a bad
 * backup: the failure is a check in the result. Without the age identity the data cannot
 * be read, so the verdict is "not verified", never passed.
 */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const { manifest } = options;
  const checks: CheckResult[] = [];
  const encrypted = manifest.encryption.format === "age";
  const part = manifest.parts[0];
  try {
    if (!part) throw new DrError("INTEGRITY_FAILED", `unable to verify backup '${manifest.id}': its manifest lists no parts`);
    checks.push(await checkManifest(options));
    if (encrypted && options.identities.length === 0) {
      if (manifest.component === "media") checks.push((await checkRefsList(options)).check);
      checks.push(await checkStoredOnly(options));
      checks.push({ name: "decrypt and read", status: "not verified", detail: "no age identity configured (DR_AGE_IDENTITY_FILE): the data was not decrypted nor read" });
    } else if (manifest.physical) {
      // A base backup: its tar lists the files a data directory needs, and its WAL range is archived.
      const { checkPhysicalBackup } = await import("./postgres/physical-verify.ts");
      checks.push(...(await checkPhysicalBackup(options)));
    } else if (manifest.component === "postgres") {
      const entries = await listArchive(options, partOf(options));
      checks.push({ name: "SHA-256 (stored and plain)", status: "ok", detail: `${part.key}` });
      checks.push({ name: "pg_restore --list", status: "ok", detail: `${entries} archive entries` });
    } else if (manifest.component === "redis") {
      const work = await makeTempDir("verify");
      try {
        await downloadPartToFile(partOf(options), join(work, "dump.rdb"));
        checks.push({ name: "SHA-256 (stored and plain)", status: "ok", detail: part.key });
        await checkRdbFile(join(work, "dump.rdb"));
        checks.push({ name: "redis-check-rdb", status: "ok", detail: "RDB readable" });
      } finally {
        await removeTempDir(work);
      }
    } else {
      const { check, refs } = await checkRefsList(options);
      checks.push(check);
      const list = await readSnapshotFileList(options);
      checks.push({ name: "snapshot file list", status: "ok", detail: `${list.files.length} files` });
      const disagreement = compareRefsWithFiles(refs, list.files);
      if (disagreement) throw new DrError("INTEGRITY_FAILED", `unable to verify backup '${manifest.id}': its refs list disagrees with its file list: ${disagreement}`);
      checks.push({ name: "refs list = file list", status: "ok", detail: `${refs.length} content keys, each referred to by the file list` });
      let bytes = 0;
      await mapConcurrent(list.files, 8, async (file) => {
        const result = await downloadPart(mediaFilePart(options, file), discardSink());
        bytes += result.plainBytes;
      });
      checks.push({ name: "media file hashes", status: "ok", detail: `${list.files.length} files, ${bytes} bytes match their SHA-256` });
    }
  } catch (error) {
    checks.push({ name: "verify", status: "failed", detail: messageOf(error) });
  }
  const verdict = checks.some((c) => c.status === "failed") ? "failed" : checks.some((c) => c.status === "not verified") ? "not verified" : "passed";
  return {
    id: manifest.id,
    component: manifest.component,
    ok: verdict === "passed",
    verdict,
    checks,
    durationMs: performance.now() - started,
  };
}
