import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { formatDuration, type DrConfig } from "../../config/index.ts";
import { readIdentityFile } from "../../crypto/age.ts";
import type { DrillResult } from "../../drill/drill-result.ts";
import { runDrill, type DrillOptions } from "../../drill/run-drill.ts";
import { makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import { runOpsChecks, type OpsInput } from "../../ops/index.ts";
import { writeReport } from "../../report/index.ts";
import { createStorage, S3Storage } from "../../storage/index.ts";
import { startTarget } from "../../targets/index.ts";
import { addSecrets, say } from "../output.ts";
import { printSteps } from "../progress.ts";
import { loadCommandConfig } from "../session.ts";

/** Keys for a drill: the configured ones, or a fresh key pair for this run (0600, removed afterwards). */
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

/** Everything a drill job needs, started; stop() cleans it all up. */
export interface DrillSetup {
  config: DrConfig;
  identities: string[];
  keySource: string;
  target: Awaited<ReturnType<typeof startTarget>>;
  storage: S3Storage;
  stop(): Promise<void>;
}

/** Load config, make keys, start the (throwaway) target and its storage. */
export async function setUpDrill(targetOverride?: string): Promise<DrillSetup> {
  const loaded = await loadCommandConfig(targetOverride);
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
    addSecrets([target.postgres.password, target.redis.password, ...keys.identities]);
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

/** Run the drill on a set-up target (extra options: fault injection, --keep, a listener). */
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

/** What the ops checks get from a drill setup and its result. */
export function opsInputFor(setup: DrillSetup, drill: DrillResult, overrides: Partial<OpsInput> = {}): OpsInput {
  return {
    drill,
    config: setup.config,
    target: setup.target,
    storage: setup.storage,
    identities: setup.identities,
    recipients: setup.config.encryption.recipients,
    scratchStorage: (prefix) => new S3Storage({ ...setup.target.s3, prefix: `${setup.target.s3.prefix}${prefix}` }),
    ...overrides,
  };
}

/**
 * `pnpm drill`: seed -> backup -> declared failure -> restore -> smoke checks ->
 * measurements -> ops checks -> reports/DR_STATUS.md. Exits 1 when a target is breached.
 */
export async function drillCommand(options: { target?: string; keep?: boolean }): Promise<number> {
  const setup = await setUpDrill(options.target);
  try {
    say(`Drill on target '${setup.target.kind}': ${setup.target.describe().postgres}`);
    const drill = await runDrillOn(setup, { listener: printSteps("  "), keep: options.keep });
    say("Running the ops checks (the reference's ten, then immutability) on the drill's results...");
    const opsTests = await runOpsChecks(opsInputFor(setup, drill));
    for (const t of opsTests) say(`  ${t.status === "passed" ? "✔" : t.status === "failed" ? "✖" : "⚠"} ${t.name} (${formatDuration(t.durationMs)}): ${t.detail}`);
    const { report, markdownPath } = await writeReport({
      dir: setup.config.report.dir,
      job: "drill",
      drill,
      opsTests,
      opsSource: "checked by `pnpm drill` on this run's backups and restores",
      secrets: [setup.target.postgres.password, setup.target.redis.password, ...setup.identities],
    });
    say(`${report.overall.mark} ${report.overall.label}`);
    say(`RPO: measured loss ${formatDuration(drill.rpo.measuredLossMs ?? Number.NaN)} (target ${formatDuration(setup.config.objectives.rpoMs)}); RTO: ${formatDuration(drill.recoveries.postgres.rtoMs ?? Number.NaN)} (target ${formatDuration(setup.config.objectives.rtoMs)})`);
    say(`Report written to ${markdownPath}`);
    return report.overall.breached.length ? 1 : 0;
  } finally {
    await setup.stop();
  }
}
