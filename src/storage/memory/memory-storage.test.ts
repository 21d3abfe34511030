import { describe, expect, it } from "vitest";
import { describeStorageConformance } from "../conformance.ts";
import { MemoryStorage } from "./memory-storage.ts";

describeStorageConformance("memory", async () => ({
  storage: new MemoryStorage(),
  cleanup: async () => {},
}));

describe("MemoryStorage", () => {
  it("claims only the capabilities it is given", () => {
    expect(new MemoryStorage().capabilities).toEqual({ versioning: false, objectLock: false, multipart: false });
    expect(new MemoryStorage({ capabilities: { versioning: true } }).capabilities).toEqual({
      versioning: true,
      objectLock: false,
      multipart: false,
    });
  });

  it("names its location", () => {
    expect(new MemoryStorage({ name: "unit" }).location).toBe("memory://unit/");
  });

  it("keeps each instance separate", async () => {
    const first = new MemoryStorage();
    await first.put("a", "1");
    await expect(new MemoryStorage().stat("a")).resolves.toBeUndefined();
  });
});
