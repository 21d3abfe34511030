import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { seedMedia } from "../fixtures/index.ts";
import type { BackupContext } from "../src/components/backup-context.ts";
import { backupMedia } from "../src/components/media/media-backup.ts";
import { makeExcludeMatcher } from "../src/components/media/media-exclude.ts";
import { walkMedia } from "../src/components/media/media-walk.ts";
import { DEFAULT_MEDIA_EXCLUDES, buildConfig } from "../src/config/load-config.ts";
import { startNativeS3 } from "../src/targets/native/native-s3.ts";
import { emptyBucket, openBenchBucket } from "./bench-bucket.ts";

/**
 * Where the node CPU of a media first sync goes, per file: seeds PROFILE_FILES media files
 * (default 2 000), starts a local fauxqs, and runs backupMedia into an empty bucket and an
 * empty cache PROFILE_ROUNDS times (default 3), with and without age (PROFILE_MODE=age|plain|both).
 * Prints wall time and this process's CPU-seconds per run; run under `node --cpu-prof` to see
 * the functions. Usage: [PROFILE_DIRECT_PUT=0] node [--cpu-prof] bench/media-profile.ts
 */
async function main(): Promise<void> {
  const files = Number(process.env.PROFILE_FILES ?? 2000);
  const rounds = Number(process.env.PROFILE_ROUNDS ?? 3);
  const mode = process.env.PROFILE_MODE ?? "both";
  const scratch = await mkdtemp(join(tmpdir(), "media-profile-"));
  // PROFILE_MEDIA_DIR: a tree seeded by an earlier run (kept), so a profile holds no seeding.
  const mediaDir = process.env.PROFILE_MEDIA_DIR ?? join(scratch, "media");
  const walked = await walkMedia(mediaDir, makeExcludeMatcher(DEFAULT_MEDIA_EXCLUDES)).catch(() => undefined);
  const seeded = walked && walked.files.length > 0 ? { bytes: walked.files.reduce((sum, f) => sum + f.size, 0) } : await seedMedia(mediaDir, { seed: 42, files });
  const s3 = await startNativeS3("profile");
  const recipients = [await identityToRecipient(await generateIdentity())];
  try {
    // PROFILE_DIRECT_PUT=0: every request through the SDK client, as before s3-direct-put.ts.
    const storage = await openBenchBucket(s3.endpoint, "profile", { directPut: process.env.PROFILE_DIRECT_PUT !== "0" });
    for (const encrypted of mode === "both" ? [true, false] : [mode === "age"]) {
      for (let round = 0; round < rounds; round++) {
        await emptyBucket(storage);
        process.env.DR_CACHE_DIR = await mkdtemp(join(scratch, "cache-"));
        const ctx: BackupContext = {
          storage,
          config: buildConfig(undefined, {}),
          postgres: { host: "127.0.0.1", port: 1, user: "x", database: "x" } as never,
          redis: { host: "127.0.0.1", port: 1 } as never,
          mediaDir,
          recipients: encrypted ? recipients : [],
        };
        const cpu = process.cpuUsage();
        const started = performance.now();
        const manifest = await backupMedia(ctx);
        const ms = performance.now() - started;
        const used = process.cpuUsage(cpu);
        const cpuS = (used.user + used.system) / 1e6;
        console.log(`${encrypted ? "age  " : "plain"} round ${round}: ${manifest.media?.uploadedFiles} files ${(seeded.bytes / 1e6).toFixed(0)} MB in ${(ms / 1000).toFixed(2)} s, node CPU ${cpuS.toFixed(2)} s (user ${(used.user / 1e6).toFixed(2)}, sys ${(used.system / 1e6).toFixed(2)}) = ${((cpuS * 1e6) / files).toFixed(0)} µs/file`);
      }
    }
    storage[Symbol.dispose]();
  } finally {
    await s3.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
