import { describe, expect, it } from "vitest";
import { categorize, summarizeProfile, type CpuProfile } from "./cpu-profile.ts";

describe("categorize", () => {
  it("puts a frame where its file says", () => {
    expect(categorize({ functionName: "(idle)", url: "" })).toMatch(/^idle/);
    expect(categorize({ functionName: "send", url: "file:///w/node_modules/.pnpm/@aws-sdk+client-s3/node_modules/@aws-sdk/client-s3/dist-cjs/index.js" })).toBe("AWS SDK (JS)");
    expect(categorize({ functionName: "countRows", url: "file:///w/src/components/postgres/postgres-facts.ts" })).toBe("dr-drill src/ (JS)");
    expect(categorize({ functionName: "x", url: "file:///w/node_modules/pg/lib/client.js" })).toBe("other dependencies (JS)");
    expect(categorize({ functionName: "require", url: "node:internal/modules/cjs/loader" })).toBe("module loading (Node)");
    expect(categorize({ functionName: "update", url: "" })).toMatch(/^native functions/);
  });
});

describe("summarizeProfile", () => {
  // root -> main -> backupPostgres -> countRows; root -> (idle)
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "" }, children: [2, 5] },
      { id: 2, callFrame: { functionName: "main", url: "file:///w/src/cli/main.ts" }, children: [3] },
      { id: 3, callFrame: { functionName: "backupPostgres", url: "file:///w/src/components/postgres/postgres-backup.ts" }, children: [4] },
      { id: 4, callFrame: { functionName: "countRows", url: "file:///w/src/components/postgres/postgres-facts.ts" } },
      { id: 5, callFrame: { functionName: "(idle)", url: "" } },
    ],
    startTime: 0,
    endTime: 10_000_000,
    samples: [2, 5, 4, 5, 3],
    timeDeltas: [1_000_000, 1_000_000, 2_000_000, 1_000_000, 3_000_000],
  };

  it("adds each sample's time until the next one to its leaf's category", () => {
    const summary = summarizeProfile(profile, ["main", "countRows", "backupPostgres"]);
    expect(summary.durationMs).toBe(10_000);
    expect(summary.byCategory["dr-drill src/ (JS)"]).toBe(1000 + 1000 + 0);
    expect(summary.byCategory["idle (waiting for I/O, children, the network)"]).toBe(2000 + 3000);
  });

  it("places watched functions on the timeline by their first and last sampled stack", () => {
    const summary = summarizeProfile(profile, ["main", "countRows", "backupPostgres", "neverCalled"]);
    expect(summary.firstSeenMs).toEqual({ main: 1000, countRows: 4000, backupPostgres: 4000 });
    expect(summary.lastSeenMs).toEqual({ main: 8000, countRows: 4000, backupPostgres: 8000 });
  });

  it("keeps the start-up (before the first watched function) apart", () => {
    const summary = summarizeProfile({ ...profile, samples: [5, 2, 4, 5, 3] }, ["main"]);
    expect(summary.startupByCategory).toEqual({ "idle (waiting for I/O, children, the network)": 1000 });
  });
});
