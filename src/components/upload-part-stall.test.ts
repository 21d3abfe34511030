import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../storage/memory/memory-storage.ts";
import type { PutOptions } from "../storage/storage.ts";
import { UploadStalledError, uploadPart } from "./upload-part.ts";

/** A storage whose put never reads its body (a frozen endpoint) until its signal aborts. */
class FrozenStorage extends MemoryStorage {
  override put(_key: string, _body: unknown, options: PutOptions = {}): Promise<{ size: number }> {
    return new Promise((_, reject) => options.signal?.addEventListener("abort", () => reject(new Error("cancelled")), { once: true }));
  }
}

describe("uploadPart stall watchdog", () => {
  it("rejects with 'no progress for N s' once nothing moves for the bound, telling onStall first", async () => {
    const storage = new FrozenStorage();
    const stalls: UploadStalledError[] = [];
    const started = performance.now();
    const error = await uploadPart({ storage, key: "postgres/x/db.dump", source: Readable.from([Buffer.alloc(1024)]), recipients: [], stallTimeoutMs: 300, onStall: (e) => stalls.push(e) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadStalledError);
    expect((error as UploadStalledError).message).toMatch(/^unable to store object 'memory:\/\/memory\/postgres\/x\/db\.dump': no progress for 3\d\d ms \(no byte reached storage and no part completed\)$/);
    expect(stalls).toEqual([error]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("a slow upload that keeps moving is not a stall", async () => {
    const storage = new MemoryStorage();
    let sent = 0;
    const source = new Readable({
      read() {
        setTimeout(() => this.push(sent++ < 10 ? Buffer.alloc(100) : null), 100);
      },
    });
    const part = await uploadPart({ storage, key: "k", source, recipients: [], stallTimeoutMs: 300 });
    expect(part.size).toBe(1000);
  });
});
