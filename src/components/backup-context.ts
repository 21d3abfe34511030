import type { DrConfig } from "../config/index.ts";
import { DrError } from "../errors/index.ts";
import type { Storage } from "../storage/storage.ts";
import type { LockTiming } from "../storage/storage-lock.ts";
import type { PostgresEndpoint, RedisEndpoint } from "../clients/endpoints.ts";
import { recipientFingerprint } from "../crypto/age.ts";

/** Everything a component backup needs. */
export interface BackupContext {
  storage: Storage;
  config: DrConfig;
  postgres: PostgresEndpoint;
  redis: RedisEndpoint;
  mediaDir: string;
  /** age recipients every part is encrypted to; empty only with allowUnencrypted. */
  recipients: readonly string[];
  signal?: AbortSignal;
  /** Progress of the current step, for a terminal display. */
  onProgress?: (step: string, bytes: number) => void;
  /** Clock, replaceable in tests. */
  now?: () => Date;
  /** Storage-lock timing (media): refresh, staleness, and how long a backup waits for a running prune (waitMs). */
  lockTiming?: Partial<LockTiming> & { waitMs?: number };
}

/**
 * The recipients to encrypt to, or a refusal: with no recipient configured, a backup is
 * written in plaintext only when the user said so explicitly.
 */
export function resolveRecipients(config: DrConfig, allowUnencrypted: boolean): string[] {
  const recipients = config.encryption.recipients;
  if (recipients.length === 0 && !(allowUnencrypted || config.encryption.allowUnencrypted)) {
    throw new DrError("CONFIG_MISSING", "unable to start backup 'all': no encryption recipient configured and plaintext backups are off", {
      hint: "set DR_AGE_RECIPIENTS to an age public key (age-keygen -y KEYFILE), or pass --allow-unencrypted to store plaintext on purpose",
    });
  }
  return [...recipients];
}

/** The manifest's encryption field for a set of recipients. */
export function describeEncryption(recipients: readonly string[]): { format: "age" | "none"; recipients: string[] } {
  return recipients.length ? { format: "age", recipients: recipients.map(recipientFingerprint) } : { format: "none", recipients: [] };
}

/** `.age` when encrypted: stored keys say what they hold. */
export function encryptedSuffix(recipients: readonly string[]): string {
  return recipients.length ? ".age" : "";
}
