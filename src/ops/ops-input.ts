import { LocalStorage } from "../storage/index.ts";
import { S3Storage } from "../storage/index.ts";
import type { DrillResult } from "../drill/drill-result.ts";
import type { DrillSetup } from "../drill/rehearsal-setup.ts";
import type { Repository } from "../repository/index.ts";
import type { DrConfig } from "../config/index.ts";
import { sourceOfTarget, type Source } from "../targets/index.ts";
import type { OpsInput } from "./ops-check.ts";

/** What the ops checks get from a rehearsal and its result (scratch space: a sub-prefix of the drill's own bucket). */
export function opsInputFor(setup: DrillSetup, drill: DrillResult, overrides: Partial<OpsInput> = {}): OpsInput {
  return {
    drill,
    config: setup.config,
    source: sourceOfTarget(setup.target),
    storage: setup.storage,
    identities: setup.identities,
    recipients: setup.config.encryption.recipients,
    identityFile: setup.config.encryption.identityFile,
    scratchStorage: (prefix) => new S3Storage({ ...setup.target.s3, prefix: `${setup.target.s3.prefix}${prefix}` }),
    ...overrides,
  };
}

/**
 * What the ops checks get when drilling existing backups: the repository is only read;
 * checks that must write (the retention exercise) get a scratch repository in a local
 * folder, never the production bucket.
 */
export function opsInputForExisting(config: DrConfig, repository: Repository, source: Source, drill: DrillResult, scratchRoot: string): OpsInput {
  return {
    drill,
    config,
    source,
    storage: repository.storage,
    identities: repository.identities,
    recipients: repository.recipients,
    identityFile: repository.identityFile,
    scratchStorage: (prefix) => new LocalStorage(`${scratchRoot}/${prefix}`),
  };
}
