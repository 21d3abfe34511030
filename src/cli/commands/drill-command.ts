import { configuredComponents, formatDuration, SCENARIO_IDS, type DrConfig, type ScenarioId } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import type { DrillResult } from "../../drill/drill-result.ts";
import { runDrillOn, setUpDrill } from "../../drill/rehearsal-setup.ts";
import { runExistingDrill } from "../../drill/run-existing-drill.ts";
import { parseScenarioIds, SCENARIOS } from "../../drill/scenarios/index.ts";
import { makeTempDir, removeTempDir } from "../../lifecycle/index.ts";
import { opsInputFor, opsInputForExisting } from "../../ops/ops-input.ts";
import { runOpsChecks, type OpsTestResult } from "../../ops/index.ts";
import { openRepository, workspaceDir } from "../../repository/index.ts";
import { drillMetrics, writeReport } from "../../report/index.ts";
import { writeTextfile } from "../../status/index.ts";
import { externalSource, openSandbox, type Source } from "../../targets/index.ts";
import { join } from "node:path";
import { addSecrets, formatTable, say } from "../output.ts";
import { printSteps } from "../progress.ts";
import { loadCommandConfig } from "../session.ts";

export interface DrillCommandOptions {
  target?: string;
  keep?: boolean;
  existing?: boolean;
  prometheus?: string;
  /** `--scenario a,b`: run only these failure scenarios (default: all). */
  scenario?: string;
  /** `--list-scenarios`: print them and exit, starting nothing. */
  listScenarios?: boolean;
  /** `--no-pitr` sets false: no point-in-time recovery rehearsal (reported as not verified). */
  pitr?: boolean;
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
async function rehearse(options: DrillCommandOptions, scenarios: ScenarioId[] | undefined): Promise<number> {
  const setup = await setUpDrill(options.target);
  addSecrets([setup.target.postgres.password, setup.target.redis.password, ...setup.identities]);
  try {
    say(`Drill on target '${setup.target.kind}': ${setup.target.describe().postgres}`);
    const drill = await runDrillOn(setup, { listener: printSteps("  "), keep: options.keep, pitr: options.pitr ?? true, ...(scenarios ? { scenarios } : {}) });
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

/** `--list-scenarios`: each failure scenario with its objective (from the configuration) and the fault it injects. */
function listScenarios(config: DrConfig): number {
  const registered = new Map(SCENARIOS.map((s) => [s.id, s]));
  const objective = (id: ScenarioId) => config.objectives.scenarios[id];
  say(formatTable(["ID", "TITLE", "RPO", "RTO", "NEEDS", "FAULT"], SCENARIO_IDS.map((id) => {
    const scenario = registered.get(id);
    return [id, scenario?.title ?? "(not implemented yet)", `<${formatDuration(objective(id).rpoMs)}`, `<${formatDuration(objective(id).rtoMs)}`, scenario?.needs.join(", ") || "-", scenario?.fault ?? "-"];
  })));
  say("");
  say("dr-drill drill runs all of them; --scenario ID[,ID] runs a subset, --scenario none runs none (native and containers targets).");
  return 0;
}

/**
 * `--scenario` on a drill of existing backups: refused, since a scenario breaks copies of
 * a rehearsal source (kills its servers, corrupts a page, deletes its media) and such a
 * drill only reads a team's backups.
 */
function refuseScenarios(config: DrConfig, options: DrillCommandOptions): DrError {
  const where = config.target === "external" ? "on the external target" : "with --existing";
  return new DrError("CONFIG_INVALID", `unable to run scenario '${options.scenario}' ${where}: a scenario injects its fault into copies of a rehearsal source, and this drill only reads the backups that exist`, {
    hint: "run the scenarios on the native or containers target (--target native|containers) without --existing, or drop --scenario",
    exitCode: 2,
  });
}

/**
 * `dr-drill drill`: a rehearsal on the embedded or container servers (the failure
 * scenarios included; `--scenario` picks some), or a drill of existing backups (external
 * target, --existing). `--list-scenarios` lists them. Exits 1 when a target is breached.
 */
export async function drillCommand(options: DrillCommandOptions): Promise<number> {
  // Parsed before anything starts: an unknown id is a usage error (exit 2) naming the valid ones.
  const scenarios = options.scenario === undefined ? undefined : parseScenarioIds(options.scenario);
  const config = await loadCommandConfig(options.target);
  if (options.listScenarios) return listScenarios(config);
  if (config.target === "external" || options.existing) {
    if (scenarios?.length) throw refuseScenarios(config, options);
    return await drillExisting(config, options);
  }
  return await rehearse(options, scenarios);
}
