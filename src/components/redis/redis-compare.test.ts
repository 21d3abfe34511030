import { describe, expect, it } from "vitest";
import { countExpiredSinceSnapshot } from "./redis-restore.ts";

describe("a restored Redis against its manifest", () => {
  const expected = { keys: { db0: 100, db1: 5 }, expires: { db0: 40, db1: 0 }, types: { string: 80, hash: 20, list: 5 } };

  it("the same keyspace: nothing expired", () => {
    expect(countExpiredSinceSnapshot(expected, expected)).toBe(0);
  });

  it("volatile keys whose TTL passed since the snapshot are dropped on load: counted, not a mismatch", () => {
    const restored = { keys: { db0: 88, db1: 5 }, expires: { db0: 28, db1: 0 }, types: { string: 68, hash: 20, list: 5 } };
    expect(countExpiredSinceSnapshot(restored, expected)).toBe(12);
  });

  it("a missing persistent key is a mismatch", () => {
    expect(countExpiredSinceSnapshot({ keys: { db0: 99, db1: 5 }, expires: { db0: 40, db1: 0 }, types: { string: 79, hash: 20, list: 5 } }, expected)).toBeUndefined();
    expect(countExpiredSinceSnapshot({ keys: { db0: 100, db1: 4 }, expires: { db0: 40, db1: 0 }, types: { string: 80, hash: 20, list: 4 } }, expected)).toBeUndefined();
  });

  it("a census taken a moment after the key count (keys expired in between) leaves that much slack", () => {
    const counted = { ...expected, types: { string: 70, hash: 20, list: 5 } };
    const restored = { keys: { db0: 90, db1: 5 }, expires: { db0: 30, db1: 0 }, types: { string: 70, hash: 20, list: 5 } };
    expect(countExpiredSinceSnapshot(restored, counted)).toBe(10);
  });

  it("more keys, or a census short by other than the expired count, is a mismatch", () => {
    expect(countExpiredSinceSnapshot({ keys: { db0: 101, db1: 5 }, expires: { db0: 41, db1: 0 }, types: { string: 81, hash: 20, list: 5 } }, expected)).toBeUndefined();
    expect(countExpiredSinceSnapshot({ keys: { db0: 90, db1: 5 }, expires: { db0: 30, db1: 0 }, types: { string: 80, hash: 10, list: 5 } }, expected)).toBe(10);
    expect(countExpiredSinceSnapshot({ keys: { db0: 90, db1: 5 }, expires: { db0: 30, db1: 0 }, types: { string: 75, hash: 20, list: 5 } }, expected)).toBeUndefined();
  });

  it("the restored server's own census may skip keys that expired after the load but are still in INFO's count", () => {
    // 2 volatile keys expired during the load (INFO 90, their TTL passed); 2 more expired after it: INFO still counts them, the scan does not.
    const restored = { keys: { db0: 98, db1: 5 }, expires: { db0: 38, db1: 0 }, types: { string: 76, hash: 20, list: 5 } };
    expect(countExpiredSinceSnapshot(restored, expected)).toBe(2);
    // It is slack for a shorter census only: a type with more keys than the backup had is still a mismatch.
    expect(countExpiredSinceSnapshot({ ...restored, types: { string: 74, hash: 22, list: 5 } }, expected)).toBeUndefined();
  });
});
