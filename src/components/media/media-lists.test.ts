import { describe, expect, it } from "vitest";
import { type BackupManifest, makeBackupId, mediaFileListKey, mediaRefsKey } from "../../manifest/index.ts";
import { MemoryStorage } from "../../storage/memory/memory-storage.ts";
import { compareRefsWithFiles, findMediaListParts, formatRefsList, plainPart, readRefsList } from "./media-lists.ts";

const id = makeBackupId("media", new Date("2026-11-24T03:00:00.000Z"));
const files = [{ key: "media/objects/bb/bb.age" }, { key: "media/objects/aa/aa.age" }, { key: "media/objects/aa/aa.age" }];

function manifestWith(parts: BackupManifest["parts"]): BackupManifest {
  return {
    formatVersion: 1, id, component: "media", source: "unit", format: "media snapshot", compression: "none",
    startedAt: "2026-11-24T03:00:00.000Z", finishedAt: "2026-11-24T03:00:01.000Z", consistentAt: "2026-11-24T03:00:00.000Z",
    parts, storedBytes: 0, encryption: { format: "age", recipients: [] }, tools: {},
  };
}

describe("media lists", () => {
  it("writes refs sorted and unique", () => {
    expect(formatRefsList(files)).toBe("media/objects/aa/aa.age\nmedia/objects/bb/bb.age\n");
  });

  it("tells how a refs list and a file list disagree", () => {
    expect(compareRefsWithFiles(["media/objects/aa/aa.age", "media/objects/bb/bb.age"], files)).toBeUndefined();
    expect(compareRefsWithFiles(["media/objects/aa/aa.age"], files)).toBe("1 content object(s) of the file list are not in the refs list (media/objects/bb/bb.age)");
    expect(compareRefsWithFiles(["media/objects/aa/aa.age", "media/objects/bb/bb.age", "media/objects/cc/cc.age"], files)).toBe("1 refs are in no file of the list (media/objects/cc/cc.age)");
  });

  it("reads a refs list only when it matches the SHA-256 in its manifest", async () => {
    const storage = new MemoryStorage();
    const text = formatRefsList(files);
    const refs = plainPart(mediaRefsKey(id), text);
    const manifest = manifestWith([plainPart(mediaFileListKey(id, true), "{}"), refs]);
    await storage.put(refs.key, text);
    expect(await readRefsList(storage, manifest)).toEqual(["media/objects/aa/aa.age", "media/objects/bb/bb.age"]);
    await storage.put(refs.key, "media/objects/aa/aa.age\n");
    await expect(readRefsList(storage, manifest)).rejects.toThrow(`unable to verify refs list of snapshot '${id}': SHA-256 mismatch on '${refs.key}'`);
    await storage.delete(refs.key);
    await expect(readRefsList(storage, manifest)).rejects.toMatchObject({ code: "STORAGE_NOT_FOUND" });
  });

  it("refuses a media manifest that records no refs list", () => {
    expect(() => findMediaListParts(manifestWith([plainPart(mediaFileListKey(id, true), "{}")]))).toThrow(
      `unable to verify refs list of snapshot '${id}': its manifest records no SHA-256 of '${mediaRefsKey(id)}'`,
    );
  });
});
