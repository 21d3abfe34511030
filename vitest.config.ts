import { defineConfig } from "vitest/config";

// Two projects: `unit` (fast, no servers, next to the code) and `ops` (real servers,
// one file at a time so measurements are not skewed by a neighbour's load).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "fixtures/**/*.test.ts", "scripts/**/*.test.ts", "bench/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "ops",
          include: ["suites/**/*.test.ts"],
          fileParallelism: false,
          sequence: { concurrent: false },
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
