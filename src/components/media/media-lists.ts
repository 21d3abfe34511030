import { Writable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { DrError, messageOf } from "../../errors/index.ts";
import { type BackupManifest, type StoredPart, mediaFileListKey, mediaObjectKey, mediaRefsKey } from "../../manifest/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { sha256Hex } from "../../streams/hash-stream.ts";
import { downloadPart, partOf, type BackupSource } from "../download-part.ts";
import type { SnapshotFile, SnapshotFileList } from "./media-snapshot.ts";

/*
 * A media snapshot has two lists in its folder, both recorded as parts of its manifest:
 * files.json (encrypted: path, size, hash of every file) and refs.txt (plain: the content
 * keys it refers to, so retention finds unreferenced objects without the secret key).
 * Retention deletes content objects on the word of refs.txt, so refs.txt is trusted only
 * when it matches the SHA-256 its manifest recorded.
 */

/** The text of a refs list: sorted unique content keys, one per line. */
export function formatRefsList(files: readonly Pick<SnapshotFile, "key">[]): string {
  return `${[...new Set(files.map((f) => f.key))].sort().join("\n")}\n`;
}

/** The StoredPart describing a plain object held in memory (sizes and hashes equal). */
export function plainPart(key: string, body: string): StoredPart {
  const bytes = Buffer.from(body);
  const sha256 = sha256Hex(bytes);
  return { key, size: bytes.byteLength, sha256, plainSize: bytes.byteLength, plainSha256: sha256 };
}

/** A snapshot's two list parts, found by key; a manifest without them cannot be trusted for media. */
export function findMediaListParts(manifest: BackupManifest): { fileList: StoredPart; refs: StoredPart } {
  const fileListKey = mediaFileListKey(manifest.id, manifest.encryption.format === "age");
  const fileList = manifest.parts.find((p) => p.key === fileListKey);
  const refs = manifest.parts.find((p) => p.key === mediaRefsKey(manifest.id));
  if (!fileList) throw new DrError("INTEGRITY_FAILED", `unable to read snapshot '${manifest.id}': its manifest lists no file list '${fileListKey}'`);
  if (!refs) {
    throw new DrError("INTEGRITY_FAILED", `unable to verify refs list of snapshot '${manifest.id}': its manifest records no SHA-256 of '${mediaRefsKey(manifest.id)}'`, {
      hint: "the snapshot was written by an older dr-drill or its manifest was altered: take a new media backup",
    });
  }
  return { fileList, refs };
}

/**
 * Download a snapshot's refs list and check it against the size and SHA-256 in its
 * manifest; the content keys it lists. A missing list throws STORAGE_NOT_FOUND, a changed
 * one INTEGRITY_FAILED naming both hashes.
 */
export async function readRefsList(storage: Storage, manifest: BackupManifest, signal?: AbortSignal): Promise<string[]> {
  const { refs } = findMediaListParts(manifest);
  const body = await buffer(await storage.get(refs.key, { signal }));
  const sha256 = sha256Hex(body);
  if (body.byteLength !== refs.size || sha256 !== refs.sha256) {
    throw new DrError("INTEGRITY_FAILED", `unable to verify refs list of snapshot '${manifest.id}': SHA-256 mismatch on '${refs.key}': expected ${refs.sha256} (${refs.size} bytes), got ${sha256} (${body.byteLength} bytes)`, {
      hint: "the list retention trusts was altered: unreferenced media objects are kept until it is repaired; take a new media backup",
    });
  }
  return body.toString("utf8").split("\n").filter((key) => key !== "");
}

/**
 * Read (download, check both hashes, decrypt) a snapshot's file list, and check it is this
 * snapshot's and names every file's content object by its hash: restores and retention
 * rely on those keys.
 */
export async function readCheckedFileList(source: BackupSource): Promise<SnapshotFileList> {
  const { manifest } = source;
  const fileListKey = mediaFileListKey(manifest.id, manifest.encryption.format === "age");
  const part = manifest.parts.find((p) => p.key === fileListKey);
  if (!part) throw new DrError("INTEGRITY_FAILED", `unable to read snapshot '${manifest.id}': its manifest lists no file list '${fileListKey}'`);
  const chunks: Buffer[] = [];
  await downloadPart(partOf(source, part), new Writable({ write(chunk: Buffer, _e, cb) { chunks.push(chunk); cb(); } }));
  let list: SnapshotFileList;
  try {
    list = JSON.parse(Buffer.concat(chunks).toString("utf8")) as SnapshotFileList;
  } catch (error) {
    throw new DrError("INTEGRITY_FAILED", `unable to read snapshot '${manifest.id}': its file list is not JSON: ${messageOf(error)}`);
  }
  if (list?.formatVersion !== 1 || list.id !== manifest.id || !Array.isArray(list.files)) {
    throw new DrError("INTEGRITY_FAILED", `unable to read snapshot '${manifest.id}': its file list belongs to '${String(list?.id)}' (format ${String(list?.formatVersion)})`);
  }
  const suffix = manifest.encryption.format === "age" ? ".age" : "";
  const wrong = list.files.find((f) => f.key !== `${mediaObjectKey(String(f.sha256))}${suffix}`);
  if (wrong) throw new DrError("INTEGRITY_FAILED", `unable to read snapshot '${manifest.id}': file '${wrong.path}' points at '${wrong.key}', not at the object of its SHA-256`);
  return list;
}

/** Why a refs list and a file list disagree (keys one has and the other lacks), or undefined. */
export function compareRefsWithFiles(refs: readonly string[], files: readonly Pick<SnapshotFile, "key">[]): string | undefined {
  const listed = new Set(files.map((f) => f.key));
  const referenced = new Set(refs);
  const missing = [...listed].filter((key) => !referenced.has(key)).sort();
  const extra = [...referenced].filter((key) => !listed.has(key)).sort();
  if (missing.length === 0 && extra.length === 0) return undefined;
  const show = (keys: string[]) => `${keys.slice(0, 3).join(", ")}${keys.length > 3 ? ` and ${keys.length - 3} more` : ""}`;
  return [
    missing.length ? `${missing.length} content object(s) of the file list are not in the refs list (${show(missing)})` : "",
    extra.length ? `${extra.length} refs are in no file of the list (${show(extra)})` : "",
  ].filter(Boolean).join("; ");
}
