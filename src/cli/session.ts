import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { type DrConfig, loadConfig } from "../config/index.ts";
import { readIdentityFile } from "../crypto/age.ts";
import { createStorage, type S3Storage } from "../storage/index.ts";
import { startTarget, type StartedTarget } from "../targets/index.ts";

/** A command's working set: configuration, started target, storage and keys. Disposing stops the target. */
export interface Session extends AsyncDisposable {
  config: DrConfig;
  target: StartedTarget;
  storage: S3Storage;
  /** Identities for decrypting (verify, restore). */
  identities: string[];
  /** Where the keys came from, for messages and the report (never the key itself). */
  keySource: string;
}

/** Load config with a --target override applied. */
export async function loadCommandConfig(targetOverride?: string): Promise<DrConfig> {
  const env = targetOverride ? { ...process.env, DR_TARGET: targetOverride } : process.env;
  return await loadConfig(env);
}

/**
 * The embedded default needs no key setup: when nothing is configured, a workspace key is
 * made once (0600) beside the native servers' data, so backups are encrypted from the first
 * run. Configured recipients/identities always win.
 */
export async function ensureWorkspaceKey(config: DrConfig, folder: string): Promise<{ config: DrConfig; identities: string[]; keySource: string }> {
  if (config.encryption.identityFile) {
    return { config, identities: await readIdentityFile(config.encryption.identityFile), keySource: `DR_AGE_IDENTITY_FILE (${config.encryption.identityFile})` };
  }
  if (config.encryption.recipients.length > 0 || config.target !== "native") {
    return { config, identities: [], keySource: config.encryption.recipients.length ? "DR_AGE_RECIPIENTS (no identity: decrypting checks are not verified)" : "none" };
  }
  const file = join(folder, "age-identity.txt");
  if (!existsSync(file)) {
    await mkdir(folder, { recursive: true });
    const identity = await generateIdentity();
    await writeFile(file, `# dr-drill workspace key for the embedded servers (not for production data)\n# public key: ${await identityToRecipient(identity)}\n${identity}\n`, { mode: 0o600 });
  }
  const identities = await readIdentityFile(file);
  const recipients = await Promise.all(identities.map((i) => identityToRecipient(i)));
  return {
    config: { ...config, encryption: { ...config.encryption, recipients, identityFile: file } },
    identities,
    keySource: `workspace key ${file}`,
  };
}

/**
 * Open a session: config, target (persistent for the native workspace), storage, keys.
 * `beforeStart` sees the final config first, so a command can refuse before any server starts.
 */
export async function openSession(options: { target?: string; persistent: boolean; beforeStart?: (config: DrConfig) => void }): Promise<Session> {
  const loaded = await loadCommandConfig(options.target);
  const keys = await ensureWorkspaceKey(loaded, join(loaded.stateDir, "native"));
  options.beforeStart?.(keys.config);
  const target = await startTarget(keys.config, { persistent: options.persistent });
  const storage = createStorage(target.s3);
  const close = async () => {
    storage.client.destroy();
    await target.stop();
  };
  return { config: keys.config, target, storage, identities: keys.identities, keySource: keys.keySource, [Symbol.asyncDispose]: close };
}

/** The secret-ish values a session knows, for redacting command output. */
export async function sessionSecrets(session: Session): Promise<string[]> {
  const secrets = [session.target.postgres.password, session.target.redis.password, ...session.identities];
  if (session.config.encryption.identityFile) {
    secrets.push(...(await readFile(session.config.encryption.identityFile, "utf8").catch(() => "")).split("\n").filter((l) => l.startsWith("AGE-SECRET-KEY-")));
  }
  return secrets.filter((s): s is string => Boolean(s));
}
