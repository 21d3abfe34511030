import { isDrError, messageOf } from "../errors/index.ts";
import type { IncompleteUpload, Storage } from "../storage/storage.ts";

/** The backup prefixes whose incomplete multipart uploads dr-drill lists and aborts. */
export const BACKUP_PREFIXES = ["postgres/", "redis/", "media/", "wal/"] as const;

/**
 * How long an incomplete upload may live before `prune` aborts it: above the longest a
 * backup may run (the dump timeout is 12 h), so a running backup is never cut off.
 */
export const INCOMPLETE_UPLOAD_BOUND_MS = 24 * 3_600_000;

/** Incomplete uploads under the backup prefixes, or why the storage cannot tell. */
export type IncompleteUploads = { uploads: IncompleteUpload[]; notVerified?: undefined } | { uploads?: undefined; notVerified: string };

/** List the incomplete multipart uploads under the backup prefixes (an endpoint without the API says so, never "0"). */
export async function listBackupUploads(storage: Storage): Promise<IncompleteUploads> {
  if (!storage.listIncompleteUploads) return { notVerified: `storage ${storage.location} has no multipart uploads to list` };
  try {
    const uploads: IncompleteUpload[] = [];
    for (const prefix of BACKUP_PREFIXES) uploads.push(...(await storage.listIncompleteUploads(prefix)));
    return { uploads };
  } catch (error) {
    if (isDrError(error, "STORAGE_UNSUPPORTED")) return { notVerified: messageOf(error).split("\n")[0]! };
    throw error;
  }
}

/** Abort the incomplete uploads under the backup prefixes older than the bound; what was aborted, or why it could not be checked. */
export async function abortStaleUploads(storage: Storage, olderThanMs = INCOMPLETE_UPLOAD_BOUND_MS): Promise<IncompleteUploads> {
  if (!storage.abortIncompleteUploads) return { notVerified: `storage ${storage.location} has no multipart uploads to abort` };
  try {
    const aborted: IncompleteUpload[] = [];
    for (const prefix of BACKUP_PREFIXES) aborted.push(...(await storage.abortIncompleteUploads(olderThanMs, prefix)));
    return { uploads: aborted };
  } catch (error) {
    if (isDrError(error, "STORAGE_UNSUPPORTED")) return { notVerified: messageOf(error).split("\n")[0]! };
    throw error;
  }
}
