import type { S3Endpoint } from "./s3-endpoint.ts";
import { S3Storage } from "./s3/s3-storage.ts";

export type * from "./storage.ts";
export type { S3Endpoint } from "./s3-endpoint.ts";
export { compareKeys, validateKey } from "./storage-key.ts";
export { normalizeMetadata } from "./storage-metadata.ts";
export { LocalStorage } from "./local/local-storage.ts";
export { MemoryStorage } from "./memory/memory-storage.ts";
export type { MemoryStorageOptions } from "./memory/memory-storage.ts";
export { S3Storage } from "./s3/s3-storage.ts";
export type { S3StorageOptions } from "./s3/s3-storage.ts";
export { describeEndpoint } from "./s3/s3-client.ts";

/** The storage backups go to for a target's S3 endpoint. */
export function createStorage(endpoint: S3Endpoint): S3Storage {
  return new S3Storage(endpoint);
}
