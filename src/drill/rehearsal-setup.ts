import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { type DrConfig, loadConfig } from "../config/index.ts";
import { readIdentityFile } from "../crypto/age.ts";
import { makeTempDir, removeTempDir } from "../lifecycle/index.ts";
import { createStorage, type S3Storage } from "../storage/index.ts";
import { startTarget, type StartedTarget } from "../targets/index.ts";
import type { DrillResult } from "./drill-result.ts";
import { runDrill, type DrillOptions } from "./run-drill.ts";

/** Keys for a rehearsal: the configured ones, or a fresh key pair for this run (0600, removed afterwards). */
export async function resolveDrillKeys(config: DrConfig, workDir: string): Promise<{ config: DrConfig; identities: string[]; keySource: string }> {
  if (config.encryption.identityFile) {
    const identities = await readIdentityFile(config.encryption.identityFile);
    const recipients = config.encryption.recipients.length ? config.encryption.recipients : await Promise.all(identities.map((i) => identityToRecipient(i)));
    return { config: { ...config, encryption: { ...config.encryption, recipients } }, identities, keySource: `DR_AGE_IDENTITY_FILE (${config.encryption.identityFile})` };
  }
  if (config.encryption.recipients.length) {
    return { config, identities: [], keySource: "DR_AGE_RECIPIENTS without an identity file: restores cannot decrypt" };
  }
  const identity = await generateIdentity();
  const file = join(workDir, "drill-identity.txt");
  await writeFile(file, `${identity}\n`, { mode: 0o600 });
  const recipient = await identityToRecipient(identity);
  return {
    config: { ...config, encryption: { ...config.encryption, recipients: [recipient], identityFile: file } },
    identities: [identity],
    keySource: "a key pair generated for this drill (no DR_AGE_RECIPIENTS configured)",
  };
}

/** Everything a rehearsal needs, started; stop() cleans it all up. */
export interface DrillSetup {
  config: DrConfig;
  identities: string[];
  keySource: string;
  target: StartedTarget;
  storage: S3Storage;
  stop(): Promise<void>;
}

/**
 * Start a rehearsal: config (DR_* and dr.config.ts, a --target override), keys, the
 * throwaway target (source, repository endpoint and sandbox in one) and its storage.
 * The same entry point for `pnpm drill` and the ops suites.
 */
export async function setUpDrill(targetOverride?: string, env: NodeJS.ProcessEnv = process.env): Promise<DrillSetup> {
  const loaded = await loadConfig(targetOverride ? { ...env, DR_TARGET: targetOverride } : env);
  const work = await makeTempDir("drill");
  try {
    const keys = await resolveDrillKeys(loaded, work);
    const target = await startTarget(keys.config, { persistent: false });
    const storage = createStorage(target.s3);
    try {
      await storage.check();
      await storage.probeCapabilities();
    } catch (error) {
      await target.stop();
      throw error;
    }
    return {
      ...keys,
      target,
      storage,
      stop: async () => {
        storage.client.destroy();
        await target.stop();
        await removeTempDir(work);
      },
    };
  } catch (error) {
    await removeTempDir(work);
    throw error;
  }
}

/** Run the rehearsal on a set-up target (extra options: fault injection, --keep, a listener). */
export async function runDrillOn(setup: DrillSetup, extra: Partial<DrillOptions> = {}): Promise<DrillResult> {
  return await runDrill({
    config: setup.config,
    target: setup.target,
    storage: setup.storage,
    recipients: setup.config.encryption.recipients,
    identities: setup.identities,
    keySource: setup.keySource,
    ...extra,
  });
}
