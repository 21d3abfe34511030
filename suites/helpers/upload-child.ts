// Child process for the upload-signal tests: streams an endless, slow body into one
// multipart upload (the path every backup part takes: uploadPart -> S3Storage.put), prints
// the bytes read so far as lines, and waits to be signalled. Endpoint and key come in env.
import { Readable } from "node:stream";
import { uploadPart } from "../../src/components/upload-part.ts";
import { S3Storage } from "../../src/storage/index.ts";
import type { S3Endpoint } from "../../src/targets/index.ts";

const endpoint = JSON.parse(process.env.DR_TEST_S3_ENDPOINT ?? "{}") as S3Endpoint;
const key = process.env.DR_TEST_KEY ?? "postgres/child/part.dump";
const storage = new S3Storage(endpoint, { partSize: 5 * 1024 * 1024, queueSize: 1 });
const chunk = Buffer.alloc(1024 * 1024, 7);
// 1 MiB every 100 ms, forever: the upload is always mid-way when the signal comes.
const body = new Readable({
  read() {
    setTimeout(() => this.push(chunk), 100);
  },
});
let reported = 0;
await uploadPart({
  storage,
  key,
  source: body,
  recipients: [],
  onProgress: (bytes) => {
    if (bytes - reported >= 1024 * 1024) {
      reported = bytes;
      process.stdout.write(`${bytes}\n`);
    }
  },
});
