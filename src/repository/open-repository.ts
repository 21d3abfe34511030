import { join } from "node:path";
import type { DrConfig } from "../config/index.ts";
import { DrError } from "../errors/index.ts";
import type { S3Endpoint } from "../storage/s3-endpoint.ts";
import { createRepository, externalEndpoint, type Repository, type RepositoryName } from "./repository.ts";
import { resolveRepositoryKeys } from "./repository-keys.ts";

/** The embedded workspace's folder (persistent native servers, its key, its S3 objects). */
export function workspaceDir(config: DrConfig): string {
  return join(config.stateDir, "native");
}

/** The bucket the embedded workspace's S3 endpoint serves. */
export const WORKSPACE_BUCKET = "dr-drill-backups";

/**
 * Open the repository a command reads or writes, and nothing else. External: the
 * configured bucket (credentials from the AWS SDK's chain). Native: the workspace's own
 * S3 endpoint, started for this command alone (the source servers stay down). Containers:
 * refused, their bucket does not outlive one command. `endpoint` reuses an endpoint that
 * is already up (a rehearsal target's), which then is not stopped with the repository.
 * `name: "replica"` opens the copy (DR_REPLICA_S3_*) instead, on any target: it must work
 * while the primary endpoint is down.
 */
export async function openRepository(config: DrConfig, options: { endpoint?: S3Endpoint; name?: RepositoryName } = {}): Promise<Repository> {
  const keys = await resolveRepositoryKeys(config, workspaceDir(config));
  if (options.name === "replica") {
    const endpoint = externalEndpoint(config, "replica");
    if (!endpoint) {
      throw new DrError("CONFIG_MISSING", "unable to open repository 'replica': DR_REPLICA_S3_BUCKET is not set", {
        hint: "set DR_REPLICA_S3_BUCKET (and DR_REPLICA_S3_ENDPOINT / _REGION / _PREFIX) to the bucket that holds the copy of every backup",
      });
    }
    return createRepository("replica", endpoint, keys);
  }
  if (options.endpoint) return createRepository("primary", options.endpoint, keys);
  switch (config.target) {
    case "external":
      return createRepository("primary", externalEndpoint(config)!, keys);
    case "native": {
      // Loaded only here: the server machinery (and the process library under it) is the
      // embedded workspace's; `wal push` against a bucket starts 0.1 s sooner without it.
      const { startNativeS3 } = await import("../targets/native/native-s3.ts");
      const s3 = await startNativeS3(WORKSPACE_BUCKET, join(workspaceDir(config), "s3"));
      return createRepository("primary", s3.endpoint, keys, () => s3.stop());
    }
    case "containers":
      throw new DrError("CONFIG_INVALID", "unable to open the repository of target 'containers': its bucket lives in a container that does not outlive one command, so a backup would be gone before it could be listed or verified", {
        hint: "use DR_TARGET=native (persistent workspace) or DR_TARGET=external; the containers target is for 'dr-drill drill' and the ops tests",
      });
  }
}
