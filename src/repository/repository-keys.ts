import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DrConfig } from "../config/index.ts";
import { readIdentityFile, recipientOf } from "../crypto/age.ts";

/** The keys a repository is opened with; never printed, only where they came from. */
export interface RepositoryKeys {
  /** age recipients every new backup is encrypted to. */
  recipients: string[];
  /** age identities that decrypt (verify, restore); empty when none is configured. */
  identities: string[];
  /** The identity file, when there is one (the stock `age -d -i FILE` check uses it). */
  identityFile: string | undefined;
  /** Where the keys came from, for messages and the report (never the key itself). */
  keySource: string;
}

/**
 * The configured keys, or for the embedded native workspace a key made once (0600) beside
 * its servers' data, so backups are encrypted from the first run. A configured identity
 * file also supplies the recipients when none are configured.
 */
export async function resolveRepositoryKeys(config: DrConfig, workspaceDir: string): Promise<RepositoryKeys> {
  if (config.encryption.identityFile) {
    const identities = await readIdentityFile(config.encryption.identityFile);
    const recipients = config.encryption.recipients.length ? [...config.encryption.recipients] : await Promise.all(identities.map((i) => recipientOf(i)));
    return { recipients, identities, identityFile: config.encryption.identityFile, keySource: `DR_AGE_IDENTITY_FILE (${config.encryption.identityFile})` };
  }
  if (config.encryption.recipients.length > 0 || config.target !== "native") {
    return {
      recipients: [...config.encryption.recipients],
      identities: [],
      identityFile: undefined,
      keySource: config.encryption.recipients.length ? "DR_AGE_RECIPIENTS (no identity: decrypting checks are not verified)" : "none",
    };
  }
  const file = join(workspaceDir, "age-identity.txt");
  if (!existsSync(file)) {
    await mkdir(workspaceDir, { recursive: true });
    const identity = await (await import("age-encryption")).generateIdentity();
    await writeFile(file, `# dr-drill workspace key for the embedded servers (not for production data)\n# public key: ${await recipientOf(identity)}\n${identity}\n`, { mode: 0o600 });
  }
  const identities = await readIdentityFile(file);
  const recipients = await Promise.all(identities.map((i) => recipientOf(i)));
  return { recipients, identities, identityFile: file, keySource: `workspace key ${file}` };
}
