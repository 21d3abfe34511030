import { appendFile, copyFile, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { indexArchiveOffsets } from "./archive-offsets.ts";

// Fixtures: one small database (two tables with rows, an empty one, a large object) dumped
// by pg_dump 15 three ways in the same second: `-Fc -Z0` to a pipe, `-Fc -Z0 -f FILE` (the
// positions in its TOC) and `-Fc -Z1` to a pipe.
const data = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "archive-offsets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function copy(name: string): Promise<string> {
  const path = join(dir, `${Math.random().toString(36).slice(2)}-${name}`);
  await copyFile(data(name), path);
  return path;
}

/** The data pg_restore reads from an archive (its random \restrict key left out). */
async function restoredData(path: string): Promise<string> {
  const { stdout } = await execa("pg_restore", ["--data-only", "-f", "-", path]);
  return stdout.split("\n").filter((line) => !/^\\(un)?restrict /.test(line)).join("\n");
}

describe("indexArchiveOffsets", () => {
  it("turns an archive written to a pipe into the one pg_dump writes to a file, byte for byte", async () => {
    const path = await copy("archive-pipe-z0.dump");
    expect(await indexArchiveOffsets(path)).toEqual({ indexed: 4, dataBlocks: 4 });
    expect((await readFile(path)).equals(await readFile(data("archive-file-z0.dump")))).toBe(true);
  });

  it("indexes a compressed archive too, and pg_restore reads the same rows and large object from it", async () => {
    const path = await copy("archive-pipe-z1.dump");
    const before = await readFile(path);
    expect(await indexArchiveOffsets(path)).toEqual({ indexed: 4, dataBlocks: 4 });
    const after = await readFile(path);
    expect(after.length).toBe(before.length);
    // Only offset fields changed: 4 entries x (state byte + 8 offset bytes) at most.
    let changed = 0;
    for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) changed++;
    expect(changed).toBeGreaterThan(4);
    expect(changed).toBeLessThanOrEqual(4 * 9);
    const sql = await restoredData(path);
    expect(sql).toBe(await restoredData(data("archive-pipe-z1.dump")));
    expect(sql).toContain("COPY public.a (id, note) FROM stdin;");
    expect(sql).toContain("lo_open");
  });

  it("leaves alone an archive that has its positions, a cut-off archive and a file that is no archive", async () => {
    const indexed = await copy("archive-file-z0.dump");
    expect(await indexArchiveOffsets(indexed)).toEqual({ skipped: "its table of contents has the data positions already" });
    expect((await readFile(indexed)).equals(await readFile(data("archive-file-z0.dump")))).toBe(true);

    const cut = await copy("archive-pipe-z0.dump");
    await truncate(cut, 12_000);
    const cutBefore = await readFile(cut);
    expect(await indexArchiveOffsets(cut)).toEqual({ skipped: expect.stringMatching(/^the archive ends at byte 12000/) });
    expect((await readFile(cut)).equals(cutBefore)).toBe(true);

    const text = join(dir, "not-an-archive.sql");
    await writeFile(text, "-- PostgreSQL database dump\n");
    expect(await indexArchiveOffsets(text)).toEqual({ skipped: "not a pg_dump archive (no PGDMP magic)" });
  });

  describe("reading right behind a writer (writing: the download still under way)", () => {
    /** Write `bytes` to `path` in pieces with pauses, as a download does; the file appears only after a pause. */
    async function writeSlowly(path: string, bytes: Buffer, pieces: number): Promise<void> {
      await sleep(30);
      await writeFile(path, "");
      const step = Math.ceil(bytes.length / pieces);
      for (let at = 0; at < bytes.length; at += step) {
        await appendFile(path, bytes.subarray(at, at + step));
        await sleep(15);
      }
    }

    it("gives the same file as indexing it once complete, and writes nothing before the writer is done", async () => {
      const bytes = await readFile(data("archive-pipe-z0.dump"));
      const path = join(dir, "growing.dump");
      let allWritten = false;
      // The last byte is written, then the download is checked (its SHA-256) before it resolves.
      const written = writeSlowly(path, bytes, 9).then(() => {
        allWritten = true;
      });
      const writing = written.then(() => sleep(150));
      const index = indexArchiveOffsets(path, { writing });
      await sleep(60);
      expect(allWritten).toBe(false);
      await written;
      await sleep(100);
      // The scan is done by now, but the download is not checked yet: the TOC is as downloaded.
      expect((await readFile(path)).equals(bytes)).toBe(true);
      expect(await index).toEqual({ indexed: 4, dataBlocks: 4 });
      expect((await readFile(path)).equals(await readFile(data("archive-file-z0.dump")))).toBe(true);
    });

    it("a writer that fails: the index is abandoned with the writer's error, the file left as written", async () => {
      const bytes = await readFile(data("archive-pipe-z0.dump"));
      const path = join(dir, "failing.dump");
      const writing = writeSlowly(path, bytes.subarray(0, 9_000), 3).then(() => {
        throw new Error("the download failed");
      });
      await expect(indexArchiveOffsets(path, { writing })).rejects.toThrow("the download failed");
      expect((await readFile(path)).equals(bytes.subarray(0, 9_000))).toBe(true);
    });
  });
});
