import type { DrillSetup } from "../../src/cli/commands/drill-command.ts";
import type { DrillResult } from "../../src/drill/drill-result.ts";
import type { OpsInput } from "../../src/ops/index.ts";
import { S3Storage } from "../../src/storage/index.ts";

/** The input the ops checks get, from a started drill setup and its result. */
export function makeOpsInput(setup: DrillSetup, drill: DrillResult, overrides: Partial<OpsInput> = {}): OpsInput {
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
