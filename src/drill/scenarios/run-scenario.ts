import { formatDuration } from "../../config/index.ts";
import { messageOf } from "../../errors/index.ts";
import { StepRecorder, type StepListener } from "../../measure/step-recorder.ts";
import { combineVerdicts, judge, notVerified, type Check, type Verdict } from "../../measure/verdict.ts";
import type { StageProvider } from "../../targets/index.ts";
import type { Capability, PathResult, Scenario, ScenarioContext, ScenarioResult, ScenarioStep, ScenarioStepResult } from "./scenario.ts";

/** What the runner needs besides the scenario. */
export interface RunScenarioInput {
  /** The context without a stage: the runner opens a fresh stage for each scenario. */
  context: Omit<ScenarioContext, "stage">;
  stages: StageProvider;
  /** Capabilities this run lacks, with the reason for each. */
  missing: Partial<Record<Capability, string>>;
  listener?: StepListener;
}

/** A recorder whose steps land in `into` with their phase (and path). */
function phaseRecorder(into: ScenarioStepResult[], phase: ScenarioStepResult["phase"], listener: StepListener | undefined, path?: string): StepRecorder {
  return new StepRecorder((event) => {
    if (event.type === "end") into.push({ ...event.step, phase, ...(path ? { path } : {}) });
    listener?.(event);
  });
}

/** Run the steps in order; the first failure ends the list (the rest recorded as not run) and is returned. */
async function runSteps<S>(steps: readonly ScenarioStep<S>[], stage: S, recorder: StepRecorder, failStep: string | undefined): Promise<string | undefined> {
  for (const [index, step] of steps.entries()) {
    const command = step.command?.(stage);
    try {
      await recorder.run(step.name, async () => {
        if (step.name === failStep) throw new Error(`step '${step.name}' failed (fault injected by the test)`);
        return await step.run(stage);
      }, (detail) => detail, command);
    } catch (error) {
      for (const later of steps.slice(index + 1)) recorder.skip(later.name, `not run: '${step.name}' failed`, later.command?.(stage));
      return `${step.name}: ${messageOf(error).split("\n")[0]}`;
    }
  }
  return undefined;
}

/** A path's verdict: its checks, then its RPO and RTO against the objective. */
function judgePath(checks: Check[], rpoMs: number | undefined, rtoMs: number | undefined, objective: { rpoMs: number; rtoMs: number }): Verdict {
  const all: Check[] = [
    ...checks,
    { name: "RPO", ...(rpoMs === undefined ? notVerified("not measured") : judge(rpoMs <= objective.rpoMs, `${formatDuration(rpoMs)} (objective <${formatDuration(objective.rpoMs)})`)) },
    { name: "RTO", ...(rtoMs === undefined ? notVerified("not measured") : judge(rtoMs <= objective.rtoMs, `${formatDuration(rtoMs)} (objective <${formatDuration(objective.rtoMs)})`)) },
  ];
  const verdict = combineVerdicts(all);
  return verdict.status === "passed" ? { status: "passed", detail: `RPO ${formatDuration(rpoMs!)}, RTO ${formatDuration(rtoMs!)}` } : verdict;
}

/**
 * Run one scenario on a stage of its own: prepare the copies, inject the fault and see it
 * (detection), declare the failure, follow each recovery path with every step timed, verify,
 * and judge against the objective. A missing capability gives "not verified" with the
 * reason; a failing step gives "failed" naming the step; the stage is always stopped.
 */
export async function runScenario<S>(scenario: Scenario<S>, input: RunScenarioInput): Promise<ScenarioResult> {
  const objective = input.context.config.objectives.scenarios[scenario.id];
  const steps: ScenarioStepResult[] = [];
  const started = performance.now();
  const result: ScenarioResult = { id: scenario.id, title: scenario.title, fault: scenario.fault, symptom: scenario.symptom, objective, verdict: notVerified("not run"), paths: [], steps, durationMs: 0 };
  const lacking = scenario.needs.filter((need) => input.missing[need] !== undefined || (need === "server-copies" && !input.stages.available));
  if (lacking.length || !input.stages.available) {
    const reasons = lacking.map((need) => input.missing[need] ?? (input.stages.available ? need : input.stages.reason));
    result.verdict = notVerified(reasons.join("; ") || (input.stages.available ? "" : input.stages.reason));
    return result;
  }
  const faults = input.context.faults;
  const failStep = faults.failStep?.scenario === scenario.id ? faults.failStep.step : undefined;
  await using stageServers = await input.stages.open();
  result.stage = stageServers.describe();
  const context: ScenarioContext = { ...input.context, stage: stageServers };
  let stage: S | undefined;
  try {
    stage = await phaseRecorder(steps, "prepare", input.listener).run(`Prepare: copies of the source for '${scenario.id}'`, () => scenario.prepare(context), () => stageServers.describe());
  } catch (error) {
    result.verdict = { status: "failed", detail: `the scenario could not be prepared: ${messageOf(error).split("\n")[0]}` };
    result.durationMs = performance.now() - started;
    return result;
  }
  try {
    const injectFailure = await runSteps(scenario.inject, stage, phaseRecorder(steps, "inject", input.listener), failStep);
    if (injectFailure) {
      result.verdict = { status: "failed", detail: `the fault could not be injected or seen: ${injectFailure}` };
      return result;
    }
    const failureAt = new Date();
    result.failureAt = failureAt.toISOString();
    for (const [index, path] of scenario.recover.entries()) {
      // The runbook's path runs from the declared failure; another is timed from its own start.
      const pathStart = index === 0 ? failureAt.getTime() : Date.now();
      const recorder = phaseRecorder(steps, "recover", input.listener, path.name);
      const stepFailure = await runSteps(path.steps, stage, recorder, failStep);
      const rtoMs = stepFailure ? undefined : Date.now() - pathStart;
      const pathResult: PathResult = { name: path.name, verdict: notVerified("not run"), rtoMs, rpoMs: undefined, rpoBasis: undefined, checks: [] };
      if (stepFailure) {
        pathResult.verdict = { status: "failed", detail: `recovery step failed: ${stepFailure}` };
      } else {
        try {
          const sabotage = faults.afterRecovery?.[scenario.id] as ((s: S) => Promise<void>) | undefined;
          if (sabotage) await sabotage(stage);
          const verified = await phaseRecorder(steps, "verify", input.listener, path.name).run(`Verify: ${path.name}`, () => path.verify(stage!, failureAt), (v) => v.checks.map((c) => `${c.status === "passed" ? "✔" : c.status === "failed" ? "✖" : "⚠"} ${c.name}`).join(", "));
          Object.assign(pathResult, { rpoMs: verified.rpoMs, rpoBasis: verified.rpoBasis, checks: verified.checks, ...(verified.lostRows === undefined ? {} : { lostRows: verified.lostRows }) });
          pathResult.verdict = judgePath(verified.checks, verified.rpoMs, rtoMs, objective);
        } catch (error) {
          pathResult.verdict = { status: "failed", detail: `verification failed: ${messageOf(error).split("\n")[0]}` };
        }
      }
      result.paths.push(pathResult);
    }
    const first = result.paths[0];
    result.rpoMs = first?.rpoMs;
    result.rtoMs = first?.rtoMs;
    const verdicts = result.paths.map((p) => ({ name: p.name, ...p.verdict }));
    const combined = combineVerdicts(verdicts);
    result.verdict = combined.status === "passed" ? { status: "passed", detail: result.paths.map((p) => `${p.name}: ${p.verdict.detail}`).join("; ") } : combined;
    return result;
  } finally {
    await phaseRecorder(steps, "verify", input.listener).run("Clean up the scenario's servers", () => scenario.dispose(stage!)).catch(() => undefined);
    result.durationMs = performance.now() - started;
  }
}
