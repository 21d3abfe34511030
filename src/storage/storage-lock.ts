import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { DrError, isDrError, messageOf } from "../errors/index.ts";
import type { Storage } from "./storage.ts";
import { readStorageNow } from "./storage-clock.ts";

/**
 * Locks kept in the backup storage itself, so they hold across hosts and commands (the cron
 * wrappers' flock only covers one host and one component). The media store needs them:
 * content objects are shared by snapshots, and deleting the unreferenced ones while a media
 * backup runs could delete an object that backup is about to reference (it uploaded it, or
 * skipped it because it was there). restic has the same problem and the same answer:
 * backups take shared locks, the clean-up an exclusive one.
 *
 * The protocol is write, then look: each side stores its lock first and only then lists the
 * others, so of two that start together at least one sees the other (S3 lists are strongly
 * consistent after a put). A backup that sees a live prune lock waits for it to go; a prune
 * that sees any other live lock deletes nothing. A lock is live while its holder refreshes
 * it; one not refreshed for `staleMs` belongs to a crashed process and is ignored, and a
 * holder that could not refresh in time stops (assertHeld) before it does anything a
 * conflicting holder could have invalidated.
 *
 * A lock's age is measured on the storage's clock only: its stored time against the stored
 * time of the reader's own lock (or of a probe object, see readStorageNow), plus time
 * elapsed on the reader's monotonic clock. The host's wall clock never meets the storage's,
 * so a storage clock 15 minutes behind the host cannot make a running backup's lock look
 * stale to a prune (which would then delete objects that backup had just uploaded).
 */

export type LockKind = "backup" | "prune";

export interface LockTiming {
  /** How often the holder rewrites its lock, ms (default 60 s). */
  refreshMs: number;
  /** A lock not rewritten for this long is stale (its holder died), ms (default 10 min). */
  staleMs: number;
  /**
   * Clock, for tests. The holder times its own refreshes with it. When a caller passes one,
   * lock ages are judged against it as the storage's clock (a test moves time forward);
   * by default they are judged on the storage's own clock (see the top of this file).
   */
  now: () => number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { refreshMs: 60_000, staleMs: 10 * 60_000, now: () => Date.now() };

/** What a lock object says about its holder (no secrets: host, pid, times). */
export interface LockRecord {
  kind: LockKind;
  /** What is locked, e.g. "media". */
  scope: string;
  host: string;
  pid: number;
  createdAt: string;
  refreshedAt: string;
}

/** A lock as listed by others. */
export interface LockInfo {
  key: string;
  kind: LockKind;
  /** Stored time of its last write (server clock), ms. */
  lastModified: number;
  /** Time since its last write on the storage's clock, ms. */
  ageMs: number;
  /** False when not refreshed for staleMs: ignored by everyone. */
  live: boolean;
}

const LOCK_ROOT = "_dr-drill/locks/";

/** Where the locks of a scope live. */
function lockPrefix(scope: string): string {
  return `${LOCK_ROOT}${scope}/`;
}

/** The lock objects of a scope as listed (kind from the name; other objects skipped). */
async function listLockObjects(storage: Storage, scope: string): Promise<{ key: string; kind: LockKind; lastModified: number }[]> {
  const objects: { key: string; kind: LockKind; lastModified: number }[] = [];
  for await (const object of storage.list(lockPrefix(scope))) {
    const name = object.key.slice(lockPrefix(scope).length);
    const kind = name.startsWith("prune-") ? "prune" : name.startsWith("backup-") ? "backup" : undefined;
    if (kind) objects.push({ key: object.key, kind, lastModified: object.lastModified });
  }
  return objects;
}

/** Judge listed locks against `storageNow` (a time on the storage's clock). */
function judgeLocks(objects: { key: string; kind: LockKind; lastModified: number }[], storageNow: number, staleMs: number): LockInfo[] {
  return objects.map((object) => {
    const ageMs = Math.max(0, storageNow - object.lastModified);
    return { ...object, ageMs, live: ageMs < staleMs };
  });
}

/**
 * The locks of a scope, live or stale. Ages are on the storage's clock (a probe object is
 * written to read it), or on `timing.now` when the caller passes one (tests).
 */
export async function listLocks(storage: Storage, scope: string, timing: Partial<LockTiming> = {}): Promise<LockInfo[]> {
  const staleMs = timing.staleMs ?? DEFAULT_LOCK_TIMING.staleMs;
  const objects = await listLockObjects(storage, scope);
  if (objects.length === 0) return [];
  const storageNow = timing.now ? timing.now() : await readStorageNow(storage);
  return judgeLocks(objects, storageNow, staleMs);
}

/** A lock this process holds: refreshed in the background until released. */
export class StorageLock {
  readonly key: string;
  readonly #storage: Storage;
  readonly #record: LockRecord;
  readonly #timing: LockTiming;
  /** The caller gave a clock (tests): ages are judged on it instead of the storage's. */
  readonly #clockGiven: boolean;
  #lastWrite: number;
  /** performance.now() when the last write was acknowledged (monotonic: for the storage-time estimate). */
  #lastWriteMono = performance.now();
  /** A write is in flight: the listed time may be its new one, so add no elapsed time to it. */
  #writing = false;
  #timer: NodeJS.Timeout | undefined;
  #refreshError: unknown;
  #released = false;

  private constructor(storage: Storage, key: string, record: LockRecord, timing: LockTiming, clockGiven: boolean) {
    this.#storage = storage;
    this.key = key;
    this.#record = record;
    this.#timing = timing;
    this.#clockGiven = clockGiven;
    this.#lastWrite = timing.now();
  }

  /** Store a new lock of `kind` on `scope` and start refreshing it. */
  static async acquire(storage: Storage, scope: string, kind: LockKind, timing: Partial<LockTiming> = {}): Promise<StorageLock> {
    const t = { ...DEFAULT_LOCK_TIMING, ...timing };
    const at = new Date(t.now()).toISOString();
    const key = `${lockPrefix(scope)}${kind}-${at.replace(/[-:.]/g, "")}-${randomBytes(4).toString("hex")}.json`;
    const record: LockRecord = { kind, scope, host: hostname(), pid: process.pid, createdAt: at, refreshedAt: at };
    const lock = new StorageLock(storage, key, record, t, timing.now !== undefined);
    try {
      await lock.#write();
    } catch (error) {
      // The storage's own errors (bucket missing, access denied) already say what to do.
      if (isDrError(error)) throw error;
      throw new DrError("STORAGE_FAILED", `unable to take the ${kind} lock on ${scope} at '${storage.location}${key}': ${messageOf(error)}`, { cause: error });
    }
    lock.#timer = setInterval(() => void lock.#refresh(), t.refreshMs);
    lock.#timer.unref();
    return lock;
  }

  /**
   * The other live locks of this scope (the write-then-look step). The storage's "now" is
   * the stored time of our own lock in the same listing plus the time since we wrote it,
   * on our monotonic clock: storage time against storage time, no probe needed.
   */
  async others(): Promise<LockInfo[]> {
    const objects = await listLockObjects(this.#storage, this.#record.scope);
    const own = objects.find((object) => object.key === this.key);
    let storageNow: number;
    if (this.#clockGiven) storageNow = this.#timing.now();
    // Errs towards younger (never older) when a refresh is in flight: the safe side.
    else if (own) storageNow = own.lastModified + (this.#writing ? 0 : performance.now() - this.#lastWriteMono);
    else storageNow = await readStorageNow(this.#storage);
    return judgeLocks(objects, storageNow, this.#timing.staleMs).filter((lock) => lock.key !== this.key && lock.live);
  }

  /**
   * Throw unless this lock has been rewritten recently enough that nobody can have taken it
   * for stale: call before any step a conflicting holder could have made unsafe.
   */
  assertHeld(): void {
    const age = this.#timing.now() - this.#lastWrite;
    // Half the stale time: room for a slow refresh and for a reader's estimate of the storage's time.
    if (this.#released || age >= this.#timing.staleMs / 2) {
      const why = this.#released ? "it was released" : `it was last written ${Math.round(age / 1000)} s ago${this.#refreshError ? ` (${messageOf(this.#refreshError)})` : ""}`;
      throw new DrError("STORAGE_FAILED", `unable to keep the ${this.#record.kind} lock on ${this.#record.scope} at '${this.#storage.location}${this.key}': ${why}`, {
        hint: "the storage was unreachable or this process stalled; others may have treated the lock as stale, so this run stops without writing more",
      });
    }
  }

  /** Stop refreshing and delete the lock (a failed delete leaves a lock that goes stale). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    await this.#storage.delete(this.key).catch(() => undefined);
  }

  async #refresh(): Promise<void> {
    if (this.#released) return;
    try {
      await this.#write();
      this.#refreshError = undefined;
    } catch (error) {
      this.#refreshError = error;
    }
  }

  async #write(): Promise<void> {
    const at = this.#timing.now();
    this.#record.refreshedAt = new Date(at).toISOString();
    this.#writing = true;
    try {
      await this.#storage.put(this.key, `${JSON.stringify(this.#record)}\n`, { contentType: "application/json" });
    } finally {
      this.#writing = false;
    }
    this.#lastWrite = at;
    this.#lastWriteMono = performance.now();
  }
}

/** One line naming a lock for messages: key and age (on the storage's clock; `_now` is kept for old callers and unused). */
export function describeLock(lock: LockInfo, _now?: number): string {
  return `${lock.kind} lock '${lock.key}' (written ${Math.round(lock.ageMs / 1000)} s ago)`;
}
