import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { encryptBuffer } from "../../crypto/age.ts";
import { DrError, messageOf, unable } from "../../errors/index.ts";
import type { Storage } from "../../storage/storage.ts";
import { sha256Hex } from "../../streams/hash-stream.ts";
import { parseWalFileName, walKey } from "./wal-names.ts";

/** Object metadata every WAL archive object carries (lower-case: S3 returns them so). */
export const WAL_METADATA = {
  /** Hex SHA-256 of the original file: the same-content check and the fetch's last check. */
  plainSha256: "dr-drill-plain-sha256",
  /** Hex SHA-256 of the stored (encrypted) bytes: checked before decrypting. */
  storedSha256: "dr-drill-sha256",
  /** Bytes of the original file. */
  plainSize: "dr-drill-plain-size",
} as const;

export interface WalPushOptions {
  storage: Storage;
  /** age recipients; WAL is never stored in plaintext (the layout is `wal/<name>.age`). */
  recipients: readonly string[];
  /** The file PostgreSQL hands to archive_command (%p), or a file in the streamer's spool. */
  path: string;
  /** Store under this name instead of the path's base name (the streamer's `.partial`). */
  name?: string;
  /**
   * Overwrite an object of the same name with other content. Only the streamer's
   * `.partial` files grow in place; a finished segment or a history file never changes.
   */
  replace?: boolean;
  signal?: AbortSignal;
}

/** What a push did. */
export interface WalPushResult {
  name: string;
  key: string;
  /** stored: uploaded now; unchanged: the same content was already there (nothing sent). */
  outcome: "stored" | "unchanged";
  plainSize: number;
  plainSha256: string;
  /** Stored bytes (0 when unchanged). */
  storedSize: number;
}

/** Refuse a name PostgreSQL would never archive: the layout keeps the original file name. */
function assertArchivable(name: string): void {
  if (!parseWalFileName(name)) {
    throw new DrError("CONFIG_INVALID", unable("push WAL file", name, "not a WAL segment, .partial, .history or .backup file name"), {
      hint: "archive_command passes %p (the path of the file to archive): archive_command = 'dr-drill wal push %p'",
      exitCode: 2,
    });
  }
}

/**
 * Archive one WAL file (segment, `.partial`, `.history` or `.backup`): age-encrypted to
 * every recipient and stored as `wal/<name>.age`, with the plain and stored SHA-256 in the
 * object's metadata. It resolves only once the storage acknowledged the whole object, so
 * archive_command exits 0 only for a stored file. PostgreSQL retries archive_command after
 * a crash, so the same name with the same content is a success with nothing sent; another
 * content under a stored name is refused naming the file (two servers sharing one
 * repository, or a restored server archiving into its source's history). A segment is at
 * most a few tens of MiB, so it is read whole and sent as one sized PutObject (S3 checks
 * the payload SHA-256), not streamed.
 */
export async function pushWalFile(options: WalPushOptions): Promise<WalPushResult> {
  const name = options.name ?? basename(options.path);
  assertArchivable(name);
  if (options.recipients.length === 0) {
    throw new DrError("CONFIG_MISSING", unable("push WAL file", name, "no encryption recipient configured (WAL is stored only encrypted)"), {
      hint: "set DR_AGE_RECIPIENTS to an age public key (age-keygen -y KEYFILE)",
    });
  }
  let data: Buffer;
  try {
    data = await readFile(options.path);
  } catch (error) {
    throw new DrError("BACKUP_FAILED", unable("read WAL file", options.path, messageOf(error)), { cause: error });
  }
  const key = walKey(name);
  const plainSha256 = sha256Hex(data);
  if (!options.replace) {
    const existing = await options.storage.stat(key);
    if (existing) {
      const storedPlain = existing.metadata[WAL_METADATA.plainSha256];
      if (storedPlain === plainSha256) {
        return { name, key, outcome: "unchanged", plainSize: data.byteLength, plainSha256, storedSize: 0 };
      }
      throw new DrError("WAL_CONFLICT", unable("push WAL file", name, `'${key}' is already stored in ${options.storage.location} with different content (stored SHA-256 ${storedPlain ?? "unknown"}, this file ${plainSha256})`), {
        hint: "another server (or a restored copy) archives into this repository: give each cluster its own DR_S3_PREFIX; the stored file was kept",
      });
    }
  }
  // Encrypted here rather than through uploadBuffer so the stored SHA-256 can ride in the
  // object's own metadata (fetch checks it before decrypting) and go to S3 as the payload
  // hash it verifies on receipt.
  const body = await encryptBuffer(data, options.recipients);
  const storedSha256 = sha256Hex(body);
  const { size } = await options.storage.put(key, body, {
    sha256: storedSha256,
    signal: options.signal,
    metadata: {
      [WAL_METADATA.plainSha256]: plainSha256,
      [WAL_METADATA.storedSha256]: storedSha256,
      [WAL_METADATA.plainSize]: String(data.byteLength),
    },
  });
  return { name, key, outcome: "stored", plainSize: data.byteLength, plainSha256, storedSize: size };
}
