// How long the S3 endpoint takes to finish a streamed upload once the last byte is read:
// the last parts in flight, then CompleteMultipartUpload. On the native target's S3
// emulator (fauxqs) CompleteMultipartUpload hashes every part again and concatenates them
// into one file, so its time grows with the object; on AWS or Ceph RGW it joins the parts
// by reference. A base backup pays it once, after pg_basebackup's last byte, with nothing
// left to overlap it. Streams BENCH_COMPLETE_MB (default 350, a 1 GB cluster's stored base
// backup) of incompressible bytes through S3Storage.put, as a backup uploads, in
// BENCH_ITERATIONS rounds (default 3), and prints the medians.
//   node bench/s3-complete.ts
import { randomFillSync } from "node:crypto";
import { Readable } from "node:stream";
import { S3Storage } from "../src/storage/index.ts";
import { startNativeS3 } from "../src/targets/native/native-s3.ts";
import { median } from "./summarize-task.ts";

const MIB = 1024 * 1024;
const bytes = Number(process.env.BENCH_COMPLETE_MB ?? 350) * MIB;
const iterations = Number(process.env.BENCH_ITERATIONS ?? 3);

/** `bytes` of random data in 64 KiB chunks (a pipe's), made ahead so producing them costs nothing while timed. */
const CHUNK = 64 * 1024;
const pool = Array.from({ length: 64 }, () => randomFillSync(Buffer.allocUnsafe(CHUNK)));
function source(onEnd: () => void): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) {
        onEnd();
        this.push(null);
        return;
      }
      this.push(pool[(sent / CHUNK) % pool.length]!);
      sent += CHUNK;
    },
  });
}

await using s3 = await startNativeS3("bench-complete");
const storage = new S3Storage({ ...s3.endpoint, bucket: "bench-complete", prefix: "" });
const completeMs: number[] = [];
storage.client.middlewareStack.add(
  (next, context) => async (args) => {
    const started = performance.now();
    const result = await next(args);
    if (context.commandName === "CompleteMultipartUploadCommand") completeMs.push(performance.now() - started);
    return result;
  },
  { step: "initialize", name: "benchCompleteTimer" },
);
const totals: number[] = [];
const tails: number[] = [];
for (let i = 0; i < iterations; i++) {
  let lastByteAt = 0;
  const started = performance.now();
  await storage.put(`object-${i}`, source(() => (lastByteAt = performance.now())));
  const done = performance.now();
  totals.push(done - started);
  tails.push(done - lastByteAt);
  await storage.delete(`object-${i}`);
  console.log(`round ${i + 1}: ${((done - started) / 1000).toFixed(2)} s, last byte read to stored ${((done - lastByteAt) / 1000).toFixed(2)} s, CompleteMultipartUpload ${(completeMs.at(-1)! / 1000).toFixed(2)} s`);
}
storage[Symbol.dispose]();
const s = (values: number[]) => `${(median(values) / 1000).toFixed(2)} s`;
console.log(`S3 emulator ${s3.version}, ${(bytes / MIB).toFixed(0)} MiB streamed (8 MiB parts, 4 in flight), ${iterations} rounds, medians:`);
console.log(`  whole upload ${s(totals)}; last byte read to stored ${s(tails)}; of which CompleteMultipartUpload ${s(completeMs)}`);
