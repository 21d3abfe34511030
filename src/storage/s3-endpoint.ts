import type { StorageCapabilities } from "./storage.ts";

/** An S3 bucket location with what the client needs to reach it. */
export interface S3Endpoint {
  /** Custom endpoint URL (fauxqs, LocalStack, MinIO); undefined means AWS. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  /** Key prefix, '' or ending in '/'. */
  prefix: string;
  /** Static credentials for local servers; undefined means the SDK's standard chain. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
  /** What this endpoint supports, as far as the target knows before probing. */
  capabilities: Partial<StorageCapabilities>;
}
