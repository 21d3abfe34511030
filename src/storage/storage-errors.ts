import { DrError, messageOf, unable } from "../errors/index.ts";

/** The object at `where` (a location + key) is absent. */
export function createNotFoundError(where: string, cause?: unknown): DrError {
  return new DrError("STORAGE_NOT_FOUND", unable("get object", where, "it does not exist"), {
    hint: "list what is stored with `dr-drill list`, or check the key and prefix",
    cause,
  });
}

/** A put was cancelled through its AbortSignal; nothing was stored. */
export function createCancelledError(where: string, signal: AbortSignal): DrError {
  return new DrError("STORAGE_FAILED", unable("put object", where, "the upload was cancelled"), {
    cause: signal.reason,
  });
}

/**
 * An operation on `where` failed. A DrError passes through unchanged; anything else is
 * wrapped so its message becomes the reason and the original stays as `cause`.
 */
export function createStorageError(action: string, where: string, error: unknown, hint?: string): DrError {
  if (error instanceof DrError) return error;
  return new DrError("STORAGE_FAILED", unable(action, where, messageOf(error)), { hint, cause: error });
}
