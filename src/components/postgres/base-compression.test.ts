import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { DrError } from "../../errors/index.ts";
import { runCommand } from "../../exec/index.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { createBaseCompressor, makeBaseTarSink } from "./base-compression.ts";

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

/** What reaches the tar's input when `stored` goes through the sink of a manifest with `compression`. */
async function throughSink(compression: string, stored: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const tarInput = new Writable({ write(c: Buffer, _e, done) { out.push(c); done(); } });
  const manifest = { id: "postgres-20260101T000000000Z", compression } as BackupManifest;
  await pipeline(Readable.from([stored]), makeBaseTarSink(manifest, tarInput, "restore backup"));
  // As the restore waits for tar to exit: the decompressor's last bytes reach tar's input after the download.
  await finished(tarInput);
  return Buffer.concat(out);
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

  it("hands tar the decompressed stream for 'zstd' and the bytes as stored for 'none' (older backups)", async () => {
    const data = pages();
    expect((await throughSink("zstd", await compress(data))).equals(data)).toBe(true);
    expect((await throughSink("none", data)).equals(data)).toBe(true);
  });

  it("fails on a damaged frame instead of passing garbage on", async () => {
    const packed = await compress(pages());
    packed[Math.floor(packed.length / 2)]! ^= 0xff;
    await expect(throughSink("zstd", packed)).rejects.toThrow();
  });

  it("refuses a compression it cannot undo, by name", async () => {
    const error = await throughSink("lz4", Buffer.alloc(10)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).code).toBe("INTEGRITY_FAILED");
    expect((error as DrError).message).toBe("unable to restore backup 'postgres-20260101T000000000Z': its manifest says compression 'lz4'; a base backup is 'none' or 'zstd'");
  });
});
