import { DrError, unable } from "../errors/index.ts";

/**
 * Reject keys that could escape a driver's root or mean different things to different
 * drivers: empty, absolute, backslashes, `.`/`..` segments, empty segments, NUL.
 * Every driver applies the same rule so a key that works in tests works in production.
 */
export function validateKey(key: string): string {
  const reason = findKeyProblem(key);
  if (reason !== undefined) {
    throw new DrError("STORAGE_FAILED", unable("use storage key", key, reason), {
      hint: "storage keys are relative paths like 'postgres/2024-01-01/base.dump'",
    });
  }
  return key;
}

/** Say what is wrong with a key, or undefined when it is acceptable. */
function findKeyProblem(key: string): string | undefined {
  if (key.length === 0) return "it is empty";
  if (key.includes("\0")) return "it contains a NUL byte";
  if (key.includes("\\")) return "it contains a backslash";
  if (key.startsWith("/")) return "it is an absolute path";
  if (/^[A-Za-z]:/.test(key)) return "it is an absolute path";
  const segments = key.split("/");
  if (segments.some((segment) => segment === "." || segment === "..")) return "it contains a '.' or '..' segment";
  if (segments.some((segment) => segment === "")) return "it contains an empty path segment";
  return undefined;
}

/** Order keys by their UTF-8 bytes, the order S3 lists in, so every driver lists alike. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
