import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DrError } from "../../errors/index.ts";
import { MemoryStorage } from "../../storage/memory/memory-storage.ts";
import { downloadPart, downloadPartToFile } from "../download-part.ts";
import { localWriteCode } from "../local-disk.ts";
import { uploadPart } from "../upload-part.ts";
import { chooseDumpCompression, describeDumpCompression, dumpCompressor, dumpFileSink, dumpSink, pgDumpLevel, startDumpCompressor, readDumpCompression } from "./dump-compression.ts";

// A pg_dump -Fc -Z0 archive of two small tables (team, player) made by pg_dump 15.
const ARCHIVE = fileURLToPath(new URL("testdata/tiny-z0.dump", import.meta.url));
const ZSTD1 = { id: "postgres-20261202T160000000Z", compression: "zstd -1 over pg_dump -Z 0" };
const GZIP1 = { id: "postgres-20261202T150000000Z", compression: "pg_dump -Z 1" };

let dir: string;
let archive: Buffer;

/** Compress bytes with the backup's compressor, as backupPostgres streams pg_dump's output. */
async function compress(data: Buffer, level: number): Promise<Buffer> {
  const compressor = dumpCompressor({ method: "zstd", level })!;
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([data]), compressor, new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  }));
  return Buffer.concat(chunks);
}

/** `pg_restore --list FILE`: the archive's table of contents, or a failure. */
async function listArchive(file: string): Promise<string> {
  return (await execa("pg_restore", ["--list", file])).stdout;
}

describe("dump compression", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dump-compression-"));
    archive = await readFile(ARCHIVE);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("describes each compression in the manifest and reads it back, older manifests included", () => {
    for (const compression of [{ method: "pg_dump", level: 1 }, { method: "pg_dump", level: 0 }, { method: "zstd", level: 1 }, { method: "zstd", level: 3 }] as const) {
      expect(readDumpCompression({ id: "x", compression: describeDumpCompression(compression) })).toEqual(compression);
    }
    expect(describeDumpCompression({ method: "zstd", level: 1 })).toBe("zstd -1 over pg_dump -Z 0");
    expect(readDumpCompression(GZIP1)).toEqual({ method: "pg_dump", level: 1 });
    expect(pgDumpLevel({ method: "zstd", level: 3 })).toBe(0);
    expect(pgDumpLevel({ method: "pg_dump", level: 6 })).toBe(6);
  });

  it("refuses a compression it does not know, naming the backup and the text, with a hint", () => {
    const read = () => readDumpCompression({ id: "postgres-20261202T160000000Z", compression: "lz4 over pg_dump -Z 0" });
    expect(read).toThrow(DrError);
    expect(read).toThrow("unable to read backup 'postgres-20261202T160000000Z': its manifest records compression 'lz4 over pg_dump -Z 0', which this version of dr-drill cannot undo");
    try {
      read();
    } catch (error) {
      expect((error as DrError).code).toBe("RESTORE_FAILED");
      expect((error as DrError).hint).toContain("age -d -i KEY");
    }
  });

  it("takes pg_dump's own compression unless the configuration names zstd; level 0 is none either way", () => {
    expect(chooseDumpCompression({ compressionLevel: 1 })).toEqual({ method: "pg_dump", level: 1 });
    expect(chooseDumpCompression({ compressionLevel: 1, compressionMethod: "zstd" })).toEqual({ method: "zstd", level: 1 });
    expect(chooseDumpCompression({ compressionLevel: 0, compressionMethod: "zstd" })).toEqual({ method: "pg_dump", level: 0 });
    expect(dumpCompressor({ method: "pg_dump", level: 1 })).toBeUndefined();
  });

  it("writes a stream the stock `zstd -d` reads back byte for byte, and pg_restore lists the result", async () => {
    const compressed = await compress(archive, 1);
    expect(compressed.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])); // zstd frame magic
    expect(compressed.length).toBeLessThan(archive.length / 2);
    const zst = join(dir, "stock.dump.zst");
    await writeFile(zst, compressed);
    const restored = join(dir, "stock.dump");
    await execa("zstd", ["-d", "-q", "-o", restored, zst]);
    expect((await readFile(restored)).equals(archive)).toBe(true);
    const toc = await listArchive(restored);
    expect(toc).toContain("TABLE DATA public player");
    expect(toc).toContain("TABLE DATA public team");
  });

  it("dumpSink undoes zstd into the sink and finishes only once the file is whole; pg_restore reads it", async () => {
    const file = join(dir, "sink.dump");
    await pipeline(Readable.from([await compress(archive, 3)]), dumpSink(ZSTD1, createWriteStream(file)));
    expect((await readFile(file)).equals(archive)).toBe(true);
    expect(await listArchive(file)).toContain("TABLE DATA public player");
  });

  it("dumpSink is the sink itself for a pg_dump -Z N backup (an old manifest restores as before)", () => {
    const sink = createWriteStream(join(dir, "old.dump"));
    expect(dumpSink(GZIP1, sink)).toBe(sink);
    sink.destroy();
  });

  it("without the zstd binary on PATH, dumpSink decompresses in this process: the same archive, and a damaged frame still fails", async () => {
    const saved = process.env.PATH;
    const sinkWithoutZstd = (file: string) => {
      process.env.PATH = join(dir, "no-such-bin");
      try {
        return dumpSink(ZSTD1, createWriteStream(file));
      } finally {
        process.env.PATH = saved;
      }
    };
    const file = join(dir, "fallback.dump");
    await pipeline(Readable.from([await compress(archive, 1)]), sinkWithoutZstd(file));
    expect((await readFile(file)).equals(archive)).toBe(true);
    const damaged = await compress(archive, 1);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    await expect(pipeline(Readable.from([damaged]), sinkWithoutZstd(join(dir, "fallback-damaged.dump")))).rejects.toThrow(/checksum|corrupt|zstd|Data/i);
  });

  it("dumpSink fails on a damaged zstd stream instead of leaving a short archive", async () => {
    const damaged = await compress(archive, 1);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    const file = join(dir, "damaged.dump");
    await expect(pipeline(Readable.from([damaged]), dumpSink(ZSTD1, createWriteStream(file)))).rejects.toThrow(/checksum|corrupt|zstd|Data/i);
  });

  it("round trip through the backup's own path: zstd -> age upload -> download + decrypt -> dumpSink -> pg_restore --list", async () => {
    const storage = new MemoryStorage();
    const identity = await generateIdentity();
    const part = await uploadPart({ storage, key: "postgres/x/db.dump.age", source: createReadStream(ARCHIVE).pipe(dumpCompressor({ method: "zstd", level: 1 })!), recipients: [await identityToRecipient(identity)] });
    const file = join(dir, "round-trip.dump");
    const result = await downloadPart({ storage, part, backupId: ZSTD1.id, identities: [identity], encrypted: true }, dumpSink(ZSTD1, createWriteStream(file)));
    expect(result.plainBytes).toBe(part.plainSize);
    expect(part.plainSize).toBeLessThan(archive.length / 2);
    expect((await readFile(file)).equals(archive)).toBe(true);
    expect(await listArchive(file)).toContain("FK CONSTRAINT public player player_team_id_fkey");
  });

  describe("dumpFileSink: the restore's archive file", () => {
    /** Run `fn` with PATH pointing nowhere (no zstd binary), restoring it after. */
    const withoutZstd = <T>(fn: () => T): T => {
      const saved = process.env.PATH;
      process.env.PATH = join(dir, "no-such-bin");
      try {
        return fn();
      } finally {
        process.env.PATH = saved;
      }
    };

    it.each([["the stock zstd writing the file itself", false], ["node:zlib without the binary", true]] as const)("zstd backup, %s: downloadPartToFile leaves the archive byte for byte and pg_restore lists it", async (_label, noBinary) => {
      const storage = new MemoryStorage();
      const identity = await generateIdentity();
      const part = await uploadPart({ storage, key: "postgres/y/db.dump.age", source: createReadStream(ARCHIVE).pipe(dumpCompressor({ method: "zstd", level: 1 })!), recipients: [await identityToRecipient(identity)] });
      const file = join(dir, `file-sink-${noBinary ? "zlib" : "cli"}.dump`);
      const result = await downloadPartToFile({ storage, part, backupId: ZSTD1.id, identities: [identity], encrypted: true }, file, {
        decode: (handle, highWaterMark) => (noBinary ? withoutZstd(() => dumpFileSink(ZSTD1, handle, highWaterMark)) : dumpFileSink(ZSTD1, handle, highWaterMark)),
      });
      expect(result.plainBytes).toBe(part.plainSize);
      expect((await readFile(file)).equals(archive)).toBe(true);
      expect(await listArchive(file)).toContain("TABLE DATA public player");
    });

    it("a pg_dump -Z N backup's bytes go into the file as they are", async () => {
      const file = join(dir, "file-sink-gzip.dump");
      const handle = await open(file, "wx");
      try {
        await pipeline(Readable.from([archive]), dumpFileSink(GZIP1, handle, 1024 * 1024));
      } finally {
        await handle.close();
      }
      expect((await readFile(file)).equals(archive)).toBe(true);
    });

    it("a damaged frame fails the writer (zstd's own message), no short archive taken for whole", async () => {
      const damaged = await compress(archive, 1);
      damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
      const handle = await open(join(dir, "file-sink-damaged.dump"), "wx");
      try {
        await expect(pipeline(Readable.from([damaged]), dumpFileSink(ZSTD1, handle, 1024 * 1024))).rejects.toThrow(/zstd.*exited with code|checksum|corrupt/i);
      } finally {
        await handle.close();
      }
    });

    it.each([["the stock zstd", false], ["node:zlib", true]] as const)("a full disk while %s writes the file is an ENOSPC the restore reports as local disk full", async (_label, noBinary) => {
      // /dev/full: every write fails with ENOSPC, as on a file system that has filled up.
      const handle = await open("/dev/full", "w");
      try {
        const sink = noBinary ? withoutZstd(() => dumpFileSink(ZSTD1, handle, 64 * 1024)) : dumpFileSink(ZSTD1, handle, 64 * 1024);
        const error = await pipeline(Readable.from([await compress(archive, 1)]), sink).then(() => undefined, (e: unknown) => e);
        expect(localWriteCode(error)).toBe("ENOSPC");
      } finally {
        await handle.close();
      }
    });
  });

  describe("startDumpCompressor", () => {
    it("is undefined for pg_dump's own compression (pg_dump -Z N writes the stored bytes)", () => {
      expect(startDumpCompressor({ method: "pg_dump", level: 1 }, Readable.from([archive]))).toBeUndefined();
    });

    it("zstd: frames the stock zstd -d and dumpSink read back to the archive, which pg_restore lists", async () => {
      const compressor = startDumpCompressor({ method: "zstd", level: 3 }, Readable.from([archive]))!;
      const chunks: Buffer[] = [];
      for await (const chunk of compressor.output) chunks.push(chunk as Buffer);
      const packed = Buffer.concat(chunks);
      expect(packed.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
      expect(packed.length).toBeLessThan(archive.length / 2);
      const file = join(dir, "start-dump-compressor.dump");
      await pipeline(Readable.from([packed]), dumpSink(ZSTD1, createWriteStream(file)));
      expect((await readFile(file)).equals(archive)).toBe(true);
      expect(await listArchive(file)).toContain("TABLE DATA public player");
    });

    it("zstd: pg_dump failing midway errors the output instead of ending the frame", async () => {
      const failing = new Readable({ read() {} });
      failing.push(archive);
      setTimeout(() => failing.destroy(new Error("pg_dump exited with code 1")), 50);
      const compressor = startDumpCompressor({ method: "zstd", level: 1 }, failing)!;
      const drained = (async () => {
        for await (const _chunk of compressor.output) void _chunk;
      })();
      await expect(drained).rejects.toThrow(/pg_dump exited with code 1|premature close/i);
    });
  });
});
