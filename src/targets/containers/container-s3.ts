import { LocalstackContainer } from "@testcontainers/localstack";
import { PullPolicy } from "testcontainers";
import { S3Storage } from "../../storage/s3/s3-storage.ts";
import type { S3Endpoint } from "../target.ts";
import type { ContainerRun } from "./container-run.ts";

/** An S3 endpoint in a container of a run, with its bucket made. */
export interface ContainerS3 {
  endpoint: S3Endpoint;
  /** `LocalStack 4.14.0` when the endpoint says so, else `S3 endpoint`. */
  version: string;
  containerId: string;
  stop(): Promise<void>;
}

export interface ContainerS3Options {
  image: string;
  bucket: string;
  run: ContainerRun;
}

/** The container bucket's default retention: COMPLIANCE (what we recommend), one day (the container is thrown away). */
const TEST_BUCKET_LOCK = { mode: "COMPLIANCE", days: 1 } as const;

/** LocalStack names its version at /_localstack/health; other S3 servers have no such page. */
async function readS3Version(url: string): Promise<string> {
  try {
    const response = await fetch(`${url}/_localstack/health`, { signal: AbortSignal.timeout(3_000) });
    const body = response.ok ? ((await response.json()) as { version?: unknown }) : {};
    return typeof body.version === "string" ? `LocalStack ${body.version}` : "S3 endpoint";
  } catch {
    return "S3 endpoint";
  }
}

/**
 * Start an S3 endpoint from `image` (LocalStack, or anything printing "Ready" and serving
 * S3 on 4566), create the bucket, and ask the bucket what it supports: versioning and
 * Object Lock are probed, not assumed, so the report says what this endpoint really has.
 */
export async function startContainerS3(options: ContainerS3Options): Promise<ContainerS3> {
  const container = await new LocalstackContainer(options.image)
    .withLabels(options.run.labels)
    .withPullPolicy(PullPolicy.neverPull())
    .start();
  options.run.add(container);
  const url = container.getConnectionUri();
  const endpoint: S3Endpoint = {
    endpoint: url,
    region: "us-east-1",
    bucket: options.bucket,
    prefix: "",
    // LocalStack accepts any key pair; test/test is its documented default.
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    forcePathStyle: true,
    capabilities: {},
  };
  try {
    using storage = new S3Storage(endpoint);
    // Object Lock asked for (an endpoint without it gets a plain bucket): the drill's backups
    // are then locked like production's should be, and the immutability check can prove it.
    await storage.createBucket({ objectLock: TEST_BUCKET_LOCK });
    endpoint.capabilities = await storage.probeCapabilities();
    const version = await readS3Version(url);
    const stop = () => options.run.stop(container);
    return { endpoint, version, containerId: container.getId(), stop };
  } catch (error) {
    await options.run.stop(container);
    throw error;
  }
}
