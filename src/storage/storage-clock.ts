import { randomBytes } from "node:crypto";
import { DrError, isDrError, messageOf } from "../errors/index.ts";
import type { Storage } from "./storage.ts";

const CLOCK_ROOT = "_dr-drill/clock/";

/**
 * The storage's own "now", ms: the stored time of a probe object written and deleted for
 * the purpose. Ages of stored things (locks, incomplete uploads) are differences of two
 * storage times, so a host clock that disagrees with the storage's (NTP broken, a VM
 * resumed) cannot make a live lock look stale or a fresh upload look old. S3 stores
 * LastModified in whole seconds: ages are exact to about a second.
 */
export async function readStorageNow(storage: Storage): Promise<number> {
  const key = `${CLOCK_ROOT}probe-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await storage.put(key, "", { contentType: "text/plain" });
    const stored = performance.now();
    const info = await storage.stat(key);
    if (!info?.lastModified) throw new Error("the probe object has no stored time");
    // The probe was stamped before the put returned: add the time since then on our own
    // monotonic clock (never the wall clock). Rounding down errs towards "younger", the safe side.
    return info.lastModified + (performance.now() - stored);
  } catch (error) {
    if (isDrError(error)) throw error;
    throw new DrError("STORAGE_FAILED", `unable to read the clock of storage '${storage.location}': ${messageOf(error)}`, { cause: error });
  } finally {
    await storage.delete(key).catch(() => undefined);
  }
}
