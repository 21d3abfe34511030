// Measures `wal push` per 16 MiB segment, as archive_command runs it: a fresh process per
// segment (start-up included) and, for comparison, the push alone inside one process.
//   node bench/wal-push-latency.ts            # 20 segments (BENCH_WAL_SEGMENTS overrides)
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { pushWalFile } from "../src/components/wal/wal-push.ts";
import { segmentFileName } from "../src/components/wal/wal-names.ts";
import { runCommand } from "../src/exec/index.ts";
import { makeTempDir, removeTempDir } from "../src/lifecycle/index.ts";
import { S3Storage } from "../src/storage/index.ts";
import { startNativeS3 } from "../src/targets/index.ts";

const ENTRY = fileURLToPath(new URL("../suites/helpers/wal-entry.ts", import.meta.url));
const count = Number(process.env.BENCH_WAL_SEGMENTS ?? 20);
const s3 = await startNativeS3();
const dir = await makeTempDir("wal-bench");
const storage = new S3Storage(s3.endpoint);
try {
  const recipient = await identityToRecipient(await generateIdentity());
  const env = { PITR_S3: JSON.stringify(s3.endpoint), PITR_RECIPIENT: recipient };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const perProcess: number[] = [];
  const inProcess: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const a = join(dir, segmentFileName(1, BigInt(2 * i + 1)));
    const b = join(dir, segmentFileName(1, BigInt(2 * i + 2)));
    await writeFile(a, randomBytes(16 * 1024 * 1024));
    await writeFile(b, randomBytes(16 * 1024 * 1024));
    let started = performance.now();
    await runCommand(process.execPath, [ENTRY, "push", a], { env, timeoutMs: 120_000 });
    perProcess.push(performance.now() - started);
    started = performance.now();
    await pushWalFile({ storage, recipients: [recipient], path: b });
    inProcess.push(performance.now() - started);
  }
  const startup = performance.now();
  await runCommand(process.execPath, ["-e", "0"], { timeoutMs: 10_000 });
  console.log(`wal push, 16 MiB segment, ${count} runs each: median ${median(perProcess).toFixed(0)} ms per process (start-up included; max ${Math.max(...perProcess).toFixed(0)} ms), median ${median(inProcess).toFixed(0)} ms in-process; bare node start-up ${(performance.now() - startup).toFixed(0)} ms`);
} finally {
  storage.client.destroy();
  await removeTempDir(dir);
  await s3.stop();
}
