import type { DrConfig } from "../config/index.ts";
import { createStorage, type S3Storage } from "../storage/index.ts";
import type { S3Endpoint } from "../storage/s3-endpoint.ts";
import type { RepositoryKeys } from "./repository-keys.ts";

/**
 * Where backups live: one bucket (and prefix) plus the age keys that write and read it.
 * Everything recovery needs and nothing else: no connection to the source database or
 * Redis, no source media folder. Disposing it closes the client and stops whatever was
 * started to serve it (the embedded workspace's S3 endpoint).
 */
/** `primary`: the bucket backups are written to; `replica`: the copy (DR_REPLICA_S3_*). */
export type RepositoryName = "primary" | "replica";

export interface Repository extends RepositoryKeys, AsyncDisposable {
  name: RepositoryName;
  storage: S3Storage;
  /** `s3://bucket/prefix/ at endpoint`, no secrets. */
  describe(): string;
  close(): Promise<void>;
}

/** Wrap an endpoint and keys as a repository; `stop` stops what serves the endpoint, if anything. */
export function createRepository(name: RepositoryName, endpoint: S3Endpoint, keys: RepositoryKeys, stop: () => Promise<void> = async () => undefined): Repository {
  const storage = createStorage(endpoint);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    storage.client.destroy();
    await stop();
  };
  return {
    name,
    storage,
    ...keys,
    describe: () => `${storage.location}${endpoint.endpoint ? ` at ${endpoint.endpoint}` : ""}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The S3 endpoint of the external target's bucket (or of the replica): credentials from the AWS SDK's chain. */
export function externalEndpoint(config: DrConfig, which: RepositoryName = "primary"): S3Endpoint | undefined {
  const s3 = which === "replica" ? config.replica : config.external?.s3;
  if (!s3) return undefined;
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    prefix: s3.prefix,
    credentials: undefined,
    forcePathStyle: s3.endpoint !== undefined,
    capabilities: {},
  };
}
