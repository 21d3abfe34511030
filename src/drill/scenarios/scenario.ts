import type { PostgresEndpoint, RedisEndpoint } from "../../clients/endpoints.ts";
import type { ComponentName, DrConfig, Objective, ScenarioId } from "../../config/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import type { Check, Verdict } from "../../measure/verdict.ts";
import type { StepResult } from "../../measure/step-recorder.ts";
import type { Storage } from "../../storage/storage.ts";
import type { ScenarioStage, ScratchServers } from "../../targets/index.ts";

/** What a scenario needs from the run; a missing one makes it "not verified" with the reason. */
export type Capability = "writable-source" | "server-copies";

/** Everything a scenario gets: the rehearsal source to copy, the repository, a stage of its own, the sandbox. */
export interface ScenarioContext {
  config: DrConfig;
  /** The primary repository, holding the prepared backups. */
  storage: Storage;
  identities: readonly string[];
  recipients: readonly string[];
  /** The rehearsal source: read to make this scenario's copies, never broken itself. */
  source: { postgres: PostgresEndpoint; redis: RedisEndpoint; mediaDir: string };
  /** The newest complete backup of each component after the preparation (what a recovery uses). */
  newest: Partial<Record<ComponentName, BackupManifest>>;
  /** This scenario's own throwaway servers. */
  stage: ScenarioStage;
  /** Where new servers come from when a runbook provisions one. */
  sandbox: ScratchServers;
  /** Test-only faults for the scenarios that model them (region outage). */
  faults: ScenarioFaults;
}

/** Test-only fault injection into the scenarios themselves (the drill must then report them failed). */
export interface ScenarioFaults {
  /** Make this recovery step throw (scenario id and step name). */
  failStep?: { scenario: ScenarioId; step: string };
  /** Damage the recovered state before verification (each scenario's stage type). */
  afterRecovery?: Partial<Record<ScenarioId, (stage: never) => Promise<void>>>;
  /** Region outage: the replica is not streaming when the region fails. */
  replicaNotStreaming?: boolean;
  /** Region outage: the newest PostgreSQL backup never reached the replica repository. */
  replicaMissingNewest?: boolean;
}

/** One step of a scenario: a name (a constant of the scenario), what a person types, the work. */
export interface ScenarioStep<S> {
  name: string;
  /** The command a person runs at this step (the runbook shows it), when there is one. */
  command?(stage: S): string;
  /** Do it; the returned line is the step's detail (counts, sizes, what was seen). */
  run(stage: S): Promise<string>;
}

/** What a recovery path's verification found: its checks and the data it lost. */
export interface PathVerification {
  checks: Check[];
  /** Data lost, ms, measured as `rpoBasis` says. */
  rpoMs: number | undefined;
  /** How the RPO was measured ("heartbeats lost", "the restored RDB's age at the failure"). */
  rpoBasis: string;
  /** Heartbeat rows the application committed and the recovery lost, when counted. */
  lostRows?: number;
}

/** One way to recover (the region outage has two: promote the replica; restore from region B's repository). */
export interface RecoveryPath<S> {
  name: string;
  /** Timed in order; the RTO of the path ends with the last. */
  steps: ScenarioStep<S>[];
  /** The checks that prove this recovery (after the RTO clock stops); the failure is the declared one. */
  verify(stage: S, failureAt: Date): Promise<PathVerification>;
}

/**
 * A failure scenario of the runbook as data: the fault it injects into a copy of the
 * source, the recovery paths a person would follow (each step timed and shown with its
 * command), and the checks that prove the recovery. The runner (run-scenario.ts) prepares,
 * injects, declares the failure, recovers, verifies and judges.
 */
export interface Scenario<S = unknown> {
  id: ScenarioId;
  title: string;
  /** The fault, one line, for the report. */
  fault: string;
  /** What the people on call see (the runbook's "Symptoms"). */
  symptom: string;
  needs: readonly Capability[];
  /** Make this scenario's own copies of the source (and the application writing to them). */
  prepare(ctx: ScenarioContext): Promise<S>;
  /** Break it, then see it broken (detection); the failure is declared after the last step. */
  inject: ScenarioStep<S>[];
  /** The first path is the runbook's; others are measured beside it. */
  recover: RecoveryPath<S>[];
  /** Stop what prepare started (the stage itself is stopped by the runner). */
  dispose(stage: S): Promise<void>;
}

/** A timed step with the phase it belongs to. */
export interface ScenarioStepResult extends StepResult {
  phase: "prepare" | "inject" | "recover" | "verify";
  /** The recovery path it belongs to (recover steps). */
  path?: string;
}

/** What one recovery path measured. */
export interface PathResult {
  name: string;
  verdict: Verdict;
  /** Its start (the declared failure for the first path) -> its last step, ms. */
  rtoMs: number | undefined;
  rpoMs: number | undefined;
  rpoBasis: string | undefined;
  lostRows?: number;
  checks: Check[];
}

/** One scenario's result: judged here, rendered by the report. */
export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  fault: string;
  symptom: string;
  objective: Objective;
  /** passed only when every path recovered, every check passed and RPO and RTO are within the objective. */
  verdict: Verdict;
  /** The declared failure, ISO (after injection and detection). */
  failureAt?: string;
  /** The first path's figures (the runbook's). */
  rpoMs?: number;
  rtoMs?: number;
  paths: PathResult[];
  steps: ScenarioStepResult[];
  /** Total wall time of the scenario (prepare to cleanup), ms. */
  durationMs: number;
  /** Where its servers ran. */
  stage?: string;
}

