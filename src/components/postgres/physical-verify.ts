import { DrError, messageOf, unable } from "../../errors/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { findGaps, listWalArchive } from "../wal/wal-archive.ts";
import { parseWalFileName } from "../wal/wal-names.ts";
import { assertBaseCompression, readBaseIntoTar } from "./base-compression.ts";

/** One check's outcome (the shape verify-backup's CheckResult has). */
export interface PhysicalCheck {
  name: string;
  status: "ok" | "failed" | "not verified";
  detail: string;
}

/** Files every pg_basebackup tar of a data directory holds: without them it cannot start. */
const REQUIRED_ENTRIES = ["PG_VERSION", "global/pg_control", "backup_label", "backup_manifest"];

/**
 * The WAL a base backup needs to become consistent (its start..stop segments) is in the
 * archive: a base backup without it cannot be restored at all. Needs no key.
 */
export async function checkBaseBackupWal(storage: Storage, manifest: BackupManifest): Promise<PhysicalCheck> {
  const facts = manifest.physical!;
  const start = parseWalFileName(facts.startWalFile, facts.walSegmentBytes)!;
  const stop = parseWalFileName(facts.stopWalFile, facts.walSegmentBytes)!;
  const archive = await listWalArchive(storage, facts.walSegmentBytes);
  const { gaps } = findGaps(archive, [{ timeline: facts.timeline, first: start.segment!, last: stop.segment! }]);
  if (gaps.length) return { name: "WAL range present", status: "failed", detail: `missing from ${storage.location}wal/: ${gaps.map((g) => g.range).join(", ")}` };
  return { name: "WAL range present", status: "ok", detail: `${facts.startWalFile}..${facts.stopWalFile} archived` };
}

/**
 * Verify a physical base backup from the repository: download, stored SHA-256, age, plain
 * SHA-256 (downloadPart), zstd frames and their checksums when compressed, read by `tar -t` to the end with the files a data directory
 * cannot start without, and its own WAL range in the archive. Throws a DrError for a
 * failure while reading (corrupt object, wrong key), as the other verifications do.
 */
export async function checkPhysicalBackup(options: { storage: Storage; manifest: BackupManifest; identities: readonly string[]; signal?: AbortSignal }): Promise<PhysicalCheck[]> {
  const { manifest } = options;
  assertBaseCompression(manifest, "verify backup");
  const outcome = await readBaseIntoTar(options, ["-t"], "verify backup", { timeoutMs: 6 * 3_600_000 });
  if (!outcome.ok) {
    throw new DrError("INTEGRITY_FAILED", unable("verify backup", manifest.id, `the base backup's tar is not readable: ${messageOf(outcome.error)}`), { cause: outcome.error });
  }
  const entries = new Set(outcome.stdout.split("\n").map((line) => line.replace(/^\.\//, "").trim()).filter(Boolean));
  const missing = REQUIRED_ENTRIES.filter((name) => !entries.has(name));
  const checks: PhysicalCheck[] = [
    { name: "SHA-256 (stored and plain)", status: "ok", detail: manifest.parts[0]!.key },
    missing.length
      ? { name: "tar -t", status: "failed", detail: `${entries.size} entries; missing ${missing.join(", ")}` }
      : { name: "tar -t", status: "ok", detail: `${entries.size} entries, ${REQUIRED_ENTRIES.join(", ")} present` },
  ];
  checks.push(await checkBaseBackupWal(options.storage, manifest));
  return checks;
}
