import { DrError, unable } from "../errors/index.ts";

// S3 sends metadata as `x-amz-meta-<name>` headers: names must be header tokens and
// values plain printable ASCII, or the SDK/server mangles or rejects them.
const NAME_PATTERN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const VALUE_PATTERN = /^[\x20-\x7e]*$/;

/**
 * Lower-case metadata names (S3 returns them lower-case) and reject what S3 cannot carry,
 * so every driver accepts and returns the same metadata.
 */
export function normalizeMetadata(metadata: Record<string, string> = {}): Record<string, string> {
  const normalized: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(metadata)) {
    const name = rawName.toLowerCase();
    if (!NAME_PATTERN.test(name)) throw invalidMetadata(rawName, "the name must be letters, digits or '-'");
    if (!VALUE_PATTERN.test(value)) throw invalidMetadata(rawName, "the value must be printable ASCII");
    normalized[name] = value;
  }
  return normalized;
}

/** The error for metadata S3 could not store. */
function invalidMetadata(name: string, reason: string): DrError {
  return new DrError("STORAGE_FAILED", unable("store metadata", name, reason), {
    hint: "encode other values (base64, JSON with ASCII escapes) before storing them as metadata",
  });
}
