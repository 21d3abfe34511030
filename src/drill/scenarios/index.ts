import { SCENARIO_IDS, type ScenarioId } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import { databaseCorruption } from "./database-corruption.ts";
import { mediaLoss } from "./media-loss.ts";
import { redisFailure } from "./redis-failure.ts";
import { regionOutage } from "./region-outage.ts";
import { serverFailure } from "./server-failure.ts";
import type { Scenario } from "./scenario.ts";

export * from "./scenario.ts";
export { runScenario } from "./run-scenario.ts";

/** Every scenario, in the runbook's order. */
export const SCENARIOS: readonly Scenario<unknown>[] = [databaseCorruption, serverFailure, redisFailure, mediaLoss, regionOutage] as Scenario<never>[];

/**
 * Parse `--scenario a,b`: the ids in the runbook's order; an unknown id is refused, naming
 * the valid ones. `none` alone selects no scenario (a drill of the backup and restore only,
 * e.g. at a size where copying the source five times would not fit); mixed with ids it is
 * refused, since "none and these" has no meaning.
 */
export function parseScenarioIds(text: string): ScenarioId[] {
  const asked = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (asked.includes("none")) {
    if (asked.length === 1) return [];
    throw new DrError("CONFIG_INVALID", `unable to select scenario '${text}': 'none' runs no scenario, so it cannot be combined with scenario ids`, {
      hint: `pass --scenario none alone, or only ids from: ${SCENARIO_IDS.join(", ")}`,
      exitCode: 2,
    });
  }
  const unknown = asked.filter((id) => !(SCENARIO_IDS as readonly string[]).includes(id));
  if (unknown.length || asked.length === 0) {
    throw new DrError("CONFIG_INVALID", `unable to select scenario '${unknown.join(",") || text}': no such scenario`, {
      hint: `valid ids: ${SCENARIO_IDS.join(", ")}, or none (dr-drill drill --list-scenarios describes them)`,
      exitCode: 2,
    });
  }
  return SCENARIO_IDS.filter((id) => asked.includes(id));
}
