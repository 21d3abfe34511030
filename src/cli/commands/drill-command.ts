import { configuredComponents, formatDuration, type DrConfig } from "../../config/index.ts";
import type { DrillResult } from "../../drill/drill-result.ts";
import { runDrillOn, setUpDrill } from "../../drill/rehearsal-setup.ts";
import { runExistingDrill } from "../../drill/run-existing-drill.ts";
import { makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import { opsInputFor, opsInputForExisting } from "../../ops/ops-input.ts";
import { runOpsChecks, type OpsTestResult } from "../../ops/index.ts";
import { openRepository, workspaceDir } from "../../repository/index.ts";
import { drillMetrics, writeReport } from "../../report/index.ts";
import { writeTextfile } from "../../status/index.ts";
import { externalSource, openSandbox, type Source } from "../../targets/index.ts";
import { join } from "node:path";
import { addSecrets, say } from "../output.ts";
import { printSteps } from "../progress.ts";
import { loadCommandConfig } from "../session.ts";

export interface DrillCommandOptions {
  target?: string;
  keep?: boolean;
  existing?: boolean;
  prometheus?: string;
}

/** Print the ops results, write the report (and the textfile), and return the exit code. */
async function finish(config: DrConfig, drill: DrillResult, opsTests: OpsTestResult[], opsSource: string, secrets: (string | undefined)[], prometheus: string | undefined): Promise<number> {
  for (const t of opsTests) say(`  ${t.status === "passed" ? "✔" : t.status === "failed" ? "✖" : t.status === "not configured" ? "–" : "⚠"} ${t.name} (${formatDuration(t.durationMs)}): ${t.detail}`);
  const { report, markdownPath } = await writeReport({ dir: config.report.dir, job: "drill", drill, opsTests, opsSource, secrets });
  if (prometheus) await writeTextfile(prometheus, drillMetrics(report));
  say(`${report.overall.mark} ${report.overall.label}`);
  for (const row of report.scenarios) say(`  ${row.mark} ${row.scenario}: ${row.measured}`);
  say(`Report written to ${markdownPath}`);
  return report.overall.breached.length ? 1 : 0;
}

/**
 * The rehearsal (`pnpm drill`): seed -> backup -> declared failure -> restore -> smoke
 * checks -> measurements -> ops checks -> reports/DR_STATUS.md, on throwaway servers.
 */
async function rehearse(options: DrillCommandOptions): Promise<number> {
  const setup = await setUpDrill(options.target);
  addSecrets([setup.target.postgres.password, setup.target.redis.password, ...setup.identities]);
  try {
    say(`Drill on target '${setup.target.kind}': ${setup.target.describe().postgres}`);
    const drill = await runDrillOn(setup, { listener: printSteps("  "), keep: options.keep });
    say("Running the ops checks (the reference's ten, then immutability) on the drill's results...");
    const opsTests = await runOpsChecks(opsInputFor(setup, drill));
    return await finish(setup.config, drill, opsTests, "checked by `pnpm drill` on this run's backups and restores", [setup.target.postgres.password, setup.target.redis.password, ...setup.identities], options.prometheus);
  } finally {
    await setup.stop();
  }
}

/**
 * A drill of the backups that exist: takes no backup and writes nothing into the source
 * or the repository's backup prefixes. The external target always drills this way; on the
 * native workspace `--existing` drills what `dr-drill backup` stored there.
 */
async function drillExisting(config: DrConfig, options: DrillCommandOptions): Promise<number> {
  const source: Source = config.target === "external"
    ? externalSource(config)
    : { kind: config.target, postgres: undefined, redis: undefined, mediaDir: join(workspaceDir(config), "media"), writable: false };
  addSecrets([source.postgres?.password, source.redis?.password]);
  await using repository = await openRepository(config);
  addSecrets(repository.identities);
  await repository.storage.check();
  await using sandbox = await openSandbox(config);
  const scratch = await makeTempDir("ops-scratch");
  try {
    say(`Drill of the existing backups in ${repository.describe()} (sandbox: ${sandbox.describe()})`);
    const drill = await runExistingDrill({ config, repository, sandbox, source, components: configuredComponents(config), listener: printSteps("  "), keep: options.keep });
    say("Running the ops checks on the existing backups...");
    const opsTests = await runOpsChecks(opsInputForExisting(config, repository, source, drill, scratch));
    return await finish(config, drill, opsTests, "checked by `dr-drill drill` on the existing backups (none taken)", [source.postgres?.password, source.redis?.password, ...repository.identities], options.prometheus);
  } finally {
    await removeTempDir(scratch);
  }
}

/** `dr-drill drill`: a rehearsal on the embedded or container servers, or a drill of existing backups (external target, --existing). Exits 1 when a target is breached. */
export async function drillCommand(options: DrillCommandOptions): Promise<number> {
  const config = await loadCommandConfig(options.target);
  if (config.target === "external" || options.existing) return await drillExisting(config, options);
  return await rehearse(options);
}
