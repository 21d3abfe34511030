import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DrError } from "../../errors/index.ts";
import { describeStorageConformance } from "../conformance.ts";
import { LocalStorage } from "./local-storage.ts";

/** A LocalStorage in a fresh temp folder. */
async function createTempStorage(): Promise<{ storage: LocalStorage; folder: string }> {
  const folder = await mkdtemp(join(tmpdir(), "dr-local-storage-"));
  return { storage: new LocalStorage(folder), folder };
}

describeStorageConformance("local", async () => {
  const { storage, folder } = await createTempStorage();
  return { storage, cleanup: () => rm(folder, { recursive: true, force: true }) };
});

describe("LocalStorage", () => {
  let storage: LocalStorage;
  let folder: string;

  beforeEach(async () => {
    ({ storage, folder } = await createTempStorage());
  });

  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it("stores each object as a plain file at its key, metadata in a sidecar", async () => {
    await storage.put("postgres/base.dump", "dump bytes", { metadata: { sha256: "abc" } });
    expect((await readdir(join(folder, "postgres"))).sort()).toEqual(["base.dump", "base.dump.dr-meta.json"]);
    expect(storage.location).toBe(`file://${folder}/`);
  });

  it("leaves no temp files behind when a put fails", async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error("disk source broke"));
      },
    });
    await expect(storage.put("deep/dir/object", failing)).rejects.toThrow(/disk source broke/);
    expect(await readdir(join(folder, "deep/dir"))).toEqual([]);
  });

  it("reads files written by hand, with no metadata", async () => {
    await writeFile(join(folder, "by-hand.txt"), "hello");
    expect(await storage.stat("by-hand.txt")).toMatchObject({ size: 5, metadata: {} });
  });

  it("rejects keys that name its own temp and sidecar files", async () => {
    await expect(storage.put("x.dr-meta.json", "x")).rejects.toThrow(
      "unable to use storage key 'x.dr-meta.json': names ending in '.dr-partial' or '.dr-meta.json' are reserved",
    );
    await expect(storage.get("a/.b.dr-partial")).rejects.toBeInstanceOf(DrError);
  });

  it("treats a folder as a missing object", async () => {
    await storage.put("dir/file", "x");
    await expect(storage.get("dir")).rejects.toMatchObject({ code: "STORAGE_NOT_FOUND" });
  });

  it("fails check() for a missing root with a hint", async () => {
    const missing = new LocalStorage(join(folder, "nope"));
    const error = await missing.check().then(() => undefined, (thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DrError);
    expect((error as DrError).message).toBe(`unable to open folder '${join(folder, "nope")}': it does not exist`);
    expect((error as DrError).hint).toMatch(/create it/);
    await missing.createRoot();
    await expect(missing.check()).resolves.toBeUndefined();
  });
});
