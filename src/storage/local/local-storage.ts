import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { access, constants, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import type { Stats } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { DrError, unable } from "../../errors/index.ts";
import type { ObjectInfo, PutOptions, Storage, StorageCapabilities, StoredObject } from "../storage.ts";
import { ByteCounter, toReadable } from "../storage-body.ts";
import { createCancelledError, createNotFoundError, createStorageError } from "../storage-errors.ts";
import { compareKeys, validateKey } from "../storage-key.ts";
import { normalizeMetadata } from "../storage-metadata.ts";
import { translateStreamErrors } from "../storage-stream.ts";

// Files the driver writes next to objects; keys may not end in these, and list skips them.
const PARTIAL_SUFFIX = ".dr-partial";
const METADATA_SUFFIX = ".dr-meta.json";

/** What the sidecar file next to each object holds. */
interface Sidecar {
  /** User metadata, lower-case names. */
  metadata: Record<string, string>;
  contentType: string;
}

/**
 * A Storage in a local folder: each object is a plain file at `<root>/<key>` (usable
 * without dr-drill), its metadata in `<key>.dr-meta.json`. A put writes temp files in the
 * same folder, fsyncs them and renames them into place, so a reader sees the whole old
 * object or the whole new one and a failed put leaves nothing behind.
 */
export class LocalStorage implements Storage {
  readonly location: string;
  readonly capabilities: StorageCapabilities = { versioning: false, objectLock: false, multipart: false };
  /** Absolute path of the folder objects live in. */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = pathToFileURL(this.root + sep).href;
  }

  // Create the root folder (and parents); an existing one is fine.
  async createRoot(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  // Stream into a temp file, fsync, write the sidecar, then rename both into place.
  async put(key: string, body: Readable | Uint8Array | string, options: PutOptions = {}): Promise<{ size: number }> {
    const target = this.#resolveKey(key);
    const metadata = normalizeMetadata(options.metadata);
    const where = this.location + key;
    const { signal } = options;
    if (signal?.aborted) throw createCancelledError(where, signal);
    const source = toReadable(body);
    const partialData = createPartialPath(target);
    const partialSidecar = createPartialPath(target + METADATA_SUFFIX);
    const counter = new ByteCounter(options.onProgress);
    try {
      await mkdir(dirname(target), { recursive: true });
      const output = createWriteStream(partialData, { flags: "wx", flush: true });
      await pipeline(source, counter, output, signal ? { signal } : {});
      const sidecar: Sidecar = { metadata, contentType: options.contentType ?? "application/octet-stream" };
      await writeFile(partialSidecar, JSON.stringify(sidecar), { flag: "wx", flush: true });
      if (signal?.aborted) throw signal.reason;
      // Sidecar first: a crash between the renames leaves an orphan sidecar, never an object without its metadata.
      await rename(partialSidecar, target + METADATA_SUFFIX);
      await rename(partialData, target);
      await syncFolder(dirname(target));
    } catch (error) {
      await Promise.all([rm(partialData, { force: true }), rm(partialSidecar, { force: true })]);
      if (!source.destroyed) source.destroy();
      if (signal?.aborted) throw createCancelledError(where, signal);
      throw createStorageError("put object", where, error);
    }
    return { size: counter.bytes };
  }

  // Open the file first so a missing object fails here, not on the first read.
  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const path = this.#resolveKey(key);
    const where = this.location + key;
    let handle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      if (isMissing(error)) throw createNotFoundError(where, error);
      throw createStorageError("get object", where, error);
    }
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw createNotFoundError(where);
    }
    return translateStreamErrors(handle.createReadStream(), (error) => createStorageError("get object", where, error), options.signal);
  }

  // Size and mtime from the file, metadata from the sidecar.
  async stat(key: string): Promise<ObjectInfo | undefined> {
    const path = this.#resolveKey(key);
    const info = await statFile(path);
    if (!info) return undefined;
    const sidecar = await readSidecar(path + METADATA_SUFFIX);
    return { key, size: info.size, lastModified: Math.floor(info.mtimeMs), metadata: sidecar.metadata };
  }

  // Walk only the folder the prefix names, then filter and sort like S3.
  async *list(prefix: string): AsyncIterable<StoredObject> {
    const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    if (folder !== "") validateKey(folder);
    const start = join(this.root, folder);
    let entries;
    try {
      entries = await readdir(start, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw createStorageError("list folder", start, error);
    }
    const keys = entries
      .filter((entry) => entry.isFile() && !isReservedName(entry.name))
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join("/"))
      .filter((key) => key.startsWith(prefix))
      .sort(compareKeys);
    for (const key of keys) {
      const info = await statFile(join(this.root, key));
      if (info) yield { key, size: info.size, lastModified: Math.floor(info.mtimeMs) };
    }
  }

  // Remove the object, then its sidecar; absent files are fine.
  async delete(key: string): Promise<void> {
    const path = this.#resolveKey(key);
    try {
      await rm(path, { force: true });
      await rm(path + METADATA_SUFFIX, { force: true });
    } catch (error) {
      throw createStorageError("delete object", this.location + key, error);
    }
  }

  // Validate every key before deleting any, then delete one by one.
  async deleteMany(keys: readonly string[]): Promise<void> {
    keys.forEach((key) => this.#resolveKey(key));
    for (const key of keys) await this.delete(key);
  }

  // The root must exist, be a folder, and be writable.
  async check(): Promise<void> {
    const info = await statFile(this.root);
    if (!info) {
      throw new DrError("STORAGE_FAILED", unable("open folder", this.root, "it does not exist"), {
        hint: "create it, or point the local storage at an existing folder",
      });
    }
    if (!info.isDirectory()) throw new DrError("STORAGE_FAILED", unable("open folder", this.root, "it is not a folder"));
    try {
      await access(this.root, constants.W_OK);
    } catch (error) {
      throw new DrError("STORAGE_FAILED", unable("open folder", this.root, "it is not writable"), {
        hint: "run dr-drill as a user that can write there, or change the folder's permissions",
        cause: error,
      });
    }
  }

  /** Validate a key and turn it into a path that is certainly inside the root. */
  #resolveKey(key: string): string {
    validateKey(key);
    if (key.split("/").some(isReservedName)) {
      throw new DrError("STORAGE_FAILED", unable("use storage key", key, `names ending in '${PARTIAL_SUFFIX}' or '${METADATA_SUFFIX}' are reserved`));
    }
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) {
      throw new DrError("STORAGE_FAILED", unable("use storage key", key, "it resolves outside the storage folder"));
    }
    return path;
  }
}

/** A unique temp name in the same folder as `path`, so rename stays atomic. */
function createPartialPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomUUID()}${PARTIAL_SUFFIX}`);
}

/** Temp and sidecar files the driver owns. */
function isReservedName(name: string): boolean {
  return name.endsWith(PARTIAL_SUFFIX) || name.endsWith(METADATA_SUFFIX);
}

/** fs.stat for a regular file or folder, or undefined when it is absent. */
async function statFile(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The sidecar's content; an object written by hand has none, which means no metadata. */
async function readSidecar(path: string): Promise<Sidecar> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Sidecar;
  } catch (error) {
    if (isMissing(error)) return { metadata: {}, contentType: "application/octet-stream" };
    throw error;
  }
}

/** Persist the renames: fsync the folder entry (not possible on every platform). */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, "r").catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Windows and some file systems cannot fsync a folder; the rename itself still happened.
  } finally {
    await handle.close();
  }
}

/** ENOENT/ENOTDIR: the path (or a parent) does not exist. */
function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
