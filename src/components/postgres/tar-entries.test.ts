import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../exec/index.ts";
import { TarEntryCapture } from "./tar-entries.ts";
import { readBackupWalRange } from "./physical-backup.ts";

/** A tar made by the system tar, fed through the capture in chunks of awkward sizes. */
async function capture(files: Record<string, Buffer>, wanted: string[], chunk: number): Promise<{ entries: ReadonlyMap<string, Buffer>; passed: Buffer; tar: Buffer; counted: number }> {
  const dir = await mkdtemp(join(tmpdir(), "tar-unit-"));
  try {
    for (const [name, body] of Object.entries(files)) {
      await mkdir(join(dir, name, ".."), { recursive: true });
      await writeFile(join(dir, name), body);
    }
    const { stdout } = await runCommand("sh", ["-c", `tar -c -f - -C ${dir} ${Object.keys(files).join(" ")} | base64 -w0`], { timeoutMs: 30_000 });
    const tar = Buffer.from(stdout, "base64");
    const pieces: Buffer[] = [];
    for (let i = 0; i < tar.length; i += chunk) pieces.push(tar.subarray(i, i + chunk));
    const out: Buffer[] = [];
    const tap = new TarEntryCapture(wanted);
    await pipeline(Readable.from(pieces), tap, new Writable({ write(c: Buffer, _e, done) { out.push(c); done(); } }));
    return { entries: tap.entries, passed: Buffer.concat(out), tar, counted: tap.bytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("TarEntryCapture", () => {
  it("keeps the wanted entries whole and passes every byte through, whatever the chunking", async () => {
    const files = { "base/1/big": randomBytes(70_001), backup_label: Buffer.from("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIMELINE: 1\n"), "global/empty": Buffer.alloc(0), backup_manifest: Buffer.from('{"WAL-Ranges": [{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }]}') };
    for (const chunk of [1, 511, 512, 4096, 65_536]) {
      const { entries, passed, tar, counted } = await capture(files, ["backup_label", "backup_manifest", "global/empty"], chunk);
      expect(passed.equals(tar)).toBe(true);
      expect(counted).toBe(tar.length);
      expect(entries.get("backup_label")?.equals(files.backup_label)).toBe(true);
      expect(entries.get("backup_manifest")?.equals(files.backup_manifest)).toBe(true);
      expect(entries.get("global/empty")?.length).toBe(0);
      expect(entries.has("base/1/big")).toBe(false);
    }
  });

  it("reads the start and stop point from backup_label and backup_manifest", () => {
    const range = readBackupWalRange("START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\nSTART TIMELINE: 1\n", '{"WAL-Ranges": [{ "Timeline": 1, "Start-LSN": "0/4000028", "End-LSN": "0/5000100" }]}');
    expect(range).toEqual({ startLsn: 0x4000028n, stopLsn: 0x5000100n, timeline: 1 });
    expect(() => readBackupWalRange("LABEL: x\n", "{}")).toThrow(/lacks the WAL start\/stop point/);
  });
});
