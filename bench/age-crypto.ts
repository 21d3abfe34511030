// age encryption in this process, side by side with the library it builds on: dr-drill's
// encryptBuffer/encryptStream/decryptStream (age-encryption for keys and headers, node:crypto
// for X25519 and the payload) against age-encryption's own Encrypter and Decrypter, on the
// same bytes, in one tinybench run. Part of `pnpm bench`; alone: `node bench/age-crypto.ts`.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { Bench } from "tinybench";
import { decryptStream, encryptBuffer, encryptStream } from "../src/crypto/age.ts";

/** One timed case: what it encrypts or decrypts and how fast each side did it. */
export interface AgeCryptoCase {
  label: string;
  /** Plaintext bytes per operation. */
  bytes: number;
  /** Mean ms per operation and samples taken, for the library and for dr-drill. */
  library: { meanMs: number; samples: number };
  drDrill: { meanMs: number; samples: number };
  /** library time / dr-drill time: > 1 means dr-drill is faster. */
  speedup: number;
}

export interface AgeCryptoSettings {
  /** Size of the small-file case (a typical media file), bytes. */
  smallBytes: number;
  /** Size of the stream cases, bytes. */
  streamBytes: number;
  /** tinybench time budget per task, ms. */
  timeMs: number;
}

export const DEFAULT_AGE_CRYPTO_SETTINGS: AgeCryptoSettings = { smallBytes: 20_000, streamBytes: 64 * 1024 * 1024, timeMs: 2000 };

/** Drain a web stream, returning the byte count. */
async function drainWeb(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

/** Drain a Node stream, returning the byte count. */
async function drainNode(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).byteLength;
  return bytes;
}

/** The plaintext as a web stream of 64 KiB chunks (what the library reads). */
function webChunks(data: Buffer): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunksOf(data));
}

/** The plaintext as a Node stream of 64 KiB chunks (what pg_dump's pipe delivers). */
function nodeChunks(data: Buffer): Readable {
  return Readable.from(chunksOf(data), { objectMode: false });
}

function* chunksOf(data: Buffer): Generator<Buffer> {
  for (let at = 0; at < data.length; at += 65536) yield data.subarray(at, at + 65536);
}

/** Fail the bench (not just slow it) when a side returns the wrong number of bytes. */
function expectBytes(got: number, want: number, what: string): void {
  if (got !== want) throw new Error(`${what}: produced ${got} bytes, expected ${want}`);
}

/** Time the three cases and return them with their ratios. */
export async function runAgeCryptoBench(settings: AgeCryptoSettings = DEFAULT_AGE_CRYPTO_SETTINGS): Promise<AgeCryptoCase[]> {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const small = randomBytes(settings.smallBytes);
  const big = randomBytes(settings.streamBytes);
  const library = new Encrypter();
  library.addRecipient(recipient);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  // One age file of the big plaintext, made by the library, for both decryption tasks.
  const sealed = Buffer.from(await library.encrypt(big));
  const stored = sealed.length;
  const smallStored = (await library.encrypt(small)).byteLength;

  const cases = [
    {
      label: `encrypt one ${(settings.smallBytes / 1000).toFixed(0)} KB buffer (a media file)`,
      bytes: settings.smallBytes,
      library: async () => expectBytes((await library.encrypt(small)).byteLength, smallStored, "library small"),
      drDrill: async () => expectBytes((await encryptBuffer(small, [recipient])).byteLength, smallStored, "dr-drill small"),
    },
    {
      label: `encrypt a ${(settings.streamBytes / 1048576).toFixed(0)} MiB stream (a dump)`,
      bytes: settings.streamBytes,
      library: async () => expectBytes(await drainWeb(await library.encrypt(webChunks(big))), stored, "library stream"),
      drDrill: async () => expectBytes(await drainNode(await encryptStream(nodeChunks(big), [recipient])), stored, "dr-drill stream"),
    },
    {
      label: `decrypt a ${(settings.streamBytes / 1048576).toFixed(0)} MiB stream (a restore)`,
      bytes: settings.streamBytes,
      library: async () => expectBytes(await drainWeb(await decrypter.decrypt(webChunks(sealed))), big.length, "library decrypt"),
      drDrill: async () => expectBytes(await drainNode(await decryptStream(nodeChunks(sealed), [identity], "bench")), big.length, "dr-drill decrypt"),
    },
  ];

  const bench = new Bench({ name: "age", time: settings.timeMs, iterations: 3, warmup: true, throws: true });
  for (const c of cases) {
    bench.add(`library: ${c.label}`, c.library, { async: true });
    bench.add(`dr-drill: ${c.label}`, c.drDrill, { async: true });
  }
  await bench.run();
  const read = (name: string) => {
    const result = bench.getTask(name)?.result;
    if (result?.state !== "completed") throw new Error(`unable to measure '${name}': ${result?.state ?? "missing"}`);
    return { meanMs: result.latency.mean, samples: result.latency.samplesCount };
  };
  return cases.map((c) => {
    const lib = read(`library: ${c.label}`);
    const ours = read(`dr-drill: ${c.label}`);
    return { label: c.label, bytes: c.bytes, library: lib, drDrill: ours, speedup: lib.meanMs / ours.meanMs };
  });
}

/** Rows for a table: one per case. */
export function makeAgeCryptoRows(cases: readonly AgeCryptoCase[]): Record<string, string>[] {
  const rate = (bytes: number, ms: number) => (bytes >= 1e6 ? `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s` : `${(ms * 1000).toFixed(0)} µs`);
  return cases.map((c) => ({
    case: c.label,
    "age-encryption": rate(c.bytes, c.library.meanMs),
    "dr-drill": rate(c.bytes, c.drDrill.meanMs),
    "speedup (library time / dr-drill time)": `${c.speedup.toFixed(2)}x`,
    samples: `${c.library.samples} / ${c.drDrill.samples}`,
  }));
}

if (import.meta.main) console.table(makeAgeCryptoRows(await runAgeCryptoBench()));
