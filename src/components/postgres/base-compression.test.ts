import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { DrError } from "../../errors/index.ts";
import { runCommand } from "../../exec/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { MemoryStorage } from "../../storage/memory/memory-storage.ts";
import { uploadPart } from "../upload-part.ts";
import { type BaseTarOutcome, createBaseCompressor, readBaseIntoTar, startBaseCompressor } from "./base-compression.ts";

/** Compressible bytes like table pages: runs of text with random gaps. */
function pages(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 400; i += 1) parts.push(Buffer.from(`row ${i} `.repeat(40)), randomBytes(64));
  return Buffer.concat(parts);
}

async function compress(data: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([data]), createBaseCompressor(), new Writable({ write(c: Buffer, _e, done) { out.push(c); done(); } }));
  return Buffer.concat(out);
}

const BACKUP_ID = "postgres-20260101T000000000Z";
/** Folders the tests made, removed after them. */
const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * A small tree tarred, compressed as a base backup is (or not), uploaded encrypted, and read
 * back through readBaseIntoTar into `tar -x`: the files unpacked, or the outcome.
 */
async function roundTrip(compression: string, damage = false, path?: string, options: { into?: string; extraBytes?: number; trailingZeros?: number } = {}): Promise<{ outcome: BaseTarOutcome; out: string; files: Map<string, Buffer> }> {
  const dir = await mkdtemp(join(tmpdir(), "base-tar-"));
  made.push(dir);
  const files = new Map([["PG_VERSION", Buffer.from("15\n")], ["base/1/1259", pages()], ["global/pg_control", randomBytes(8192)]]);
  if (options.extraBytes) files.set("base/1/16384", randomBytes(options.extraBytes));
  for (const [name, data] of files) {
    await mkdir(join(dir, "src", name, ".."), { recursive: true });
    await writeFile(join(dir, "src", name), data);
  }
  await runCommand("tar", ["-c", "-f", join(dir, "base.tar"), "-C", join(dir, "src"), "."], { timeoutMs: 30_000 });
  const tarBytes = Buffer.concat([await readFile(join(dir, "base.tar")), Buffer.alloc(options.trailingZeros ?? 0)]);
  const plain = compression === "zstd" ? await compress(tarBytes) : tarBytes;
  if (damage) plain[Math.floor(plain.length / 2)]! ^= 0xff;
  const storage = new MemoryStorage();
  const identity = await generateIdentity();
  const part = await uploadPart({ storage, key: `postgres/x/base.tar${compression === "zstd" ? ".zst" : ""}.age`, source: Readable.from([plain]), recipients: [await identityToRecipient(identity)] });
  const manifest = { id: BACKUP_ID, compression, parts: [part], encryption: { format: "age" } } as unknown as BackupManifest;
  const out = options.into ?? join(dir, "out");
  if (!options.into) await mkdir(out);
  const saved = process.env.PATH;
  if (path !== undefined) process.env.PATH = path;
  try {
    const outcome = await readBaseIntoTar({ storage, manifest, identities: [identity] }, ["-x", "-C", out], "restore backup", { timeoutMs: 30_000 });
    return { outcome, out, files };
  } finally {
    process.env.PATH = saved;
  }
}

/** A PATH with tar on it and no zstd: the in-process decompressor's case. */
async function pathWithoutZstd(): Promise<string> {
  const bin = await mkdtemp(join(tmpdir(), "bin-no-zstd-"));
  made.push(bin);
  await symlink((await runCommand("sh", ["-c", "command -v tar"], { timeoutMs: 5_000 })).stdout.trim(), join(bin, "tar"));
  return bin;
}

describe("base backup compression", () => {
  it("compresses with zstd that the stock zstd CLI decompresses and checks (frame checksum on)", async () => {
    const data = pages();
    const packed = await compress(data);
    expect(packed.length).toBeLessThan(data.length / 2);
    const dir = await mkdtemp(join(tmpdir(), "zstd-unit-"));
    try {
      await writeFile(join(dir, "base.tar.zst"), packed);
      await runCommand("zstd", ["-d", "-q", join(dir, "base.tar.zst"), "-o", join(dir, "base.tar")], { timeoutMs: 30_000 });
      expect((await readFile(join(dir, "base.tar"))).equals(data)).toBe(true);
      // -lv names the check when the frame carries one.
      const { stdout } = await runCommand("zstd", ["-lv", join(dir, "base.tar.zst")], { timeoutMs: 30_000 });
      expect(stdout).toMatch(/Check: XXH64/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([["zstd", "the stock zstd -d writing into tar's stdin", false], ["zstd", "node:zlib into tar, no zstd binary", true], ["none", "the bytes as stored (older backups)", false]] as const)(
    "'%s' via %s: tar unpacks every file byte for byte",
    async (compression, _how, noZstd) => {
      const { outcome, out, files } = await roundTrip(compression, false, noZstd ? await pathWithoutZstd() : undefined);
      expect(outcome).toEqual({ ok: true, stdout: "" });
      for (const [name, data] of files) expect((await readFile(join(out, name))).equals(data)).toBe(true);
    },
  );

  it.each([["the stock zstd", false], ["node:zlib", true]] as const)("a damaged frame fails (%s) instead of passing garbage on", async (_how, noZstd) => {
    const run = roundTrip("zstd", true, noZstd ? await pathWithoutZstd() : undefined);
    // zstd exits non-zero, or the in-process decompressor fails: the download fails with its message, or tar's outcome does.
    const result = await run.then((r) => (r.outcome.ok ? "unpacked" : r.outcome.error.message), (error: unknown) => `threw: ${(error as Error).message}`);
    expect(result).not.toBe("unpacked");
    expect(result).toMatch(/zstd|checksum|corrupt|Data|exited with code/i);
  });

  it.each([["zstd", "the stock zstd -d", false], ["zstd", "node:zlib", true], ["none", "no decompressor", false]] as const)(
    "'%s' via %s: a tar that stops reading (its folder is missing) is the failure reported, not the broken pipe behind it",
    async (compression, _how, noZstd) => {
      // 4 MB that does not compress: more than the pipes between the processes hold, so the writes break.
      const { outcome } = await roundTrip(compression, false, noZstd ? await pathWithoutZstd() : undefined, { into: join(tmpdir(), "dr-drill-no-such-folder", "data"), extraBytes: 4 * 1024 * 1024 });
      expect(outcome.ok).toBe(false);
      const message = outcome.ok ? "" : outcome.error.message;
      expect(message).toMatch(/^unable to run '\S*tar -x -C \S*dr-drill-no-such-folder\/data( --\S+)* -f -': exited with code 2/);
      expect(message).toMatch(/Cannot open: No such file or directory/);
    },
  );

  it.each([["zstd", "the stock zstd -d", false], ["zstd", "node:zlib", true], ["none", "no decompressor", false]] as const)(
    "'%s' via %s: bytes after the end-of-archive (record padding) that tar never reads are no failure",
    async (compression, _how, noZstd) => {
      // tar exits at the end-of-archive blocks: the 4 MB of zeros after them break the pipe.
      const { outcome, out, files } = await roundTrip(compression, false, noZstd ? await pathWithoutZstd() : undefined, { trailingZeros: 4 * 1024 * 1024 });
      expect(outcome).toEqual({ ok: true, stdout: "" });
      for (const [name, data] of files) expect((await readFile(join(out, name))).equals(data)).toBe(true);
    },
  );

  it("refuses a compression it cannot undo, by name", async () => {
    const error = await roundTrip("lz4").then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).code).toBe("INTEGRITY_FAILED");
    expect((error as DrError).message).toBe("unable to restore backup 'postgres-20260101T000000000Z': its manifest says compression 'lz4'; a base backup is 'none' or 'zstd'");
  });

  describe("startBaseCompressor", () => {
    /** Read a stream to the end: its bytes, or the error it failed with. */
    const drain = async (stream: Readable): Promise<Buffer> => {
      const out: Buffer[] = [];
      for await (const chunk of stream) out.push(chunk as Buffer);
      return Buffer.concat(out);
    };
    const withPath = async <T>(path: string | undefined, fn: () => T): Promise<T> => {
      const saved = process.env.PATH;
      if (path !== undefined) process.env.PATH = path;
      try {
        return fn();
      } finally {
        process.env.PATH = saved;
      }
    };

    it.each([["the stock zstd", false], ["node:zlib without the binary", true]] as const)("%s: frames the stock zstd -d reads back with their checksum", async (_how, noZstd) => {
      const data = pages();
      const compressor = await withPath(noZstd ? await pathWithoutZstd() : undefined, () => startBaseCompressor(Readable.from([data])));
      const packed = await drain(compressor.output);
      expect(packed.length).toBeLessThan(data.length / 2);
      const dir = await mkdtemp(join(tmpdir(), "zstd-unit-"));
      made.push(dir);
      await writeFile(join(dir, "base.tar.zst"), packed);
      const { stdout } = await runCommand("zstd", ["-lv", join(dir, "base.tar.zst")], { timeoutMs: 30_000 });
      expect(stdout).toMatch(/Check: XXH64/);
      await runCommand("zstd", ["-d", "-q", join(dir, "base.tar.zst"), "-o", join(dir, "base.tar")], { timeoutMs: 30_000 });
      expect((await readFile(join(dir, "base.tar"))).equals(data)).toBe(true);
    });

    it.each([["the stock zstd", false], ["node:zlib without the binary", true]] as const)("%s: a source that fails midway errors the output, never a clean end", async (_how, noZstd) => {
      const data = pages();
      const failing = new Readable({ read() {} });
      failing.push(data);
      setTimeout(() => failing.destroy(new Error("pg_basebackup exited with code 1")), 50);
      const compressor = await withPath(noZstd ? await pathWithoutZstd() : undefined, () => startBaseCompressor(failing));
      await expect(drain(compressor.output)).rejects.toThrow(/pg_basebackup exited with code 1|premature close/i);
    });
  });
});
