import { describe, expect, it } from "vitest";
import { SCENARIO_IDS } from "../../config/index.ts";
import { isDrError } from "../../errors/index.ts";
import { parseScenarioIds } from "./index.ts";

/** The error a parse throws (the test fails when it does not throw). */
function refusal(text: string): Error {
  try {
    parseScenarioIds(text);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`parseScenarioIds('${text}') did not refuse`);
}

describe("parseScenarioIds", () => {
  it("ids come back in the runbook's order, duplicates once", () => {
    expect(parseScenarioIds("region-outage, redis-failure,redis-failure")).toEqual(["redis-failure", "region-outage"]);
  });

  it("none alone selects no scenario", () => {
    expect(parseScenarioIds("none")).toEqual([]);
    expect(parseScenarioIds(" none ")).toEqual([]);
  });

  it("none mixed with ids is refused: usage error, exit 2, with a hint", () => {
    const error = refusal("none,media-loss");
    expect(isDrError(error, "CONFIG_INVALID")).toBe(true);
    expect(error.message).toBe("unable to select scenario 'none,media-loss': 'none' runs no scenario, so it cannot be combined with scenario ids");
    expect((error as { exitCode?: number }).exitCode).toBe(2);
    expect((error as { hint?: string }).hint).toBe(`pass --scenario none alone, or only ids from: ${SCENARIO_IDS.join(", ")}`);
  });

  it("an unknown id or an empty list is refused, naming the valid ids and none", () => {
    expect(refusal("media-loss,nonsense").message).toBe("unable to select scenario 'nonsense': no such scenario");
    expect(refusal(" , ").message).toBe("unable to select scenario ' , ': no such scenario");
    expect((refusal("x") as { hint?: string }).hint).toContain(`valid ids: ${SCENARIO_IDS.join(", ")}, or none`);
  });
});
