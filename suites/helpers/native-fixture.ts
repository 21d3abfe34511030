import { generateIdentity, identityToRecipient } from "age-encryption";
import type { BackupContext } from "../../src/components/index.ts";
import { buildConfig, type DrConfig } from "../../src/config/index.ts";
import { createStorage, type S3Storage } from "../../src/storage/index.ts";
import { startNativeTarget, type NativeTarget } from "../../src/targets/index.ts";
import { seedMedia, seedPostgres, seedRedis } from "../../fixtures/index.ts";

/** A seeded native target with storage and a key pair, for fault tests. */
export interface NativeFixture {
  target: NativeTarget;
  storage: S3Storage;
  config: DrConfig;
  identity: string;
  recipient: string;
  ctx(overrides?: Partial<BackupContext>): BackupContext;
  stop(): Promise<void>;
}

/** Start and seed the native servers (PostgreSQL ~postgresBytes, Redis, 200 media files). */
export async function startNativeFixture(postgresBytes = 30e6): Promise<NativeFixture> {
  const target = await startNativeTarget();
  try {
    await Promise.all([
      seedPostgres(target.postgres, { targetBytes: postgresBytes, seed: 7 }),
      seedRedis(target.redis, { seed: 7 }),
      seedMedia(target.mediaDir, { seed: 7 }),
    ]);
  } catch (error) {
    await target.stop();
    throw error;
  }
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const config = buildConfig(undefined, {});
  const storage = createStorage(target.s3);
  return {
    target,
    storage,
    config,
    identity,
    recipient,
    ctx: (overrides = {}) => ({
      storage,
      config,
      postgres: target.postgres,
      redis: target.redis,
      mediaDir: target.mediaDir,
      recipients: [recipient],
      ...overrides,
    }),
    stop: async () => {
      storage.client.destroy();
      await target.stop();
    },
  };
}

/** Every key under a prefix. */
export async function listKeys(storage: S3Storage, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix)) keys.push(object.key);
  return keys;
}
