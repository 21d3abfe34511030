// Child-process entry for the native S3 endpoint: starts fauxqs (an S3 emulator from npm)
// with file-backed storage, prints {"port":N} once it listens, and stops on SIGTERM/SIGINT
// or when its parent goes away (so a killed drill never leaves it running).
import { startFauxqs } from "fauxqs";

const [storageDir, bucket] = process.argv.slice(2);
if (!storageDir || !bucket) {
  process.stderr.write("usage: fauxqs-server.ts STORAGE_DIR BUCKET\n");
  process.exit(2);
}
const parentPid = process.ppid;
const server = await startFauxqs({ port: 0, logger: false, s3StorageDir: storageDir, init: { buckets: [bucket] } });
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
setInterval(() => {
  if (process.ppid !== parentPid) void stop();
}, 1000).unref();
