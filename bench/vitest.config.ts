import { defineConfig } from "vitest/config";

// The bench's pure functions (ratios, step parsing, profile summaries), run on their own:
// `pnpm exec vitest run -c bench/vitest.config.ts` (no servers, no network).
export default defineConfig({
  test: {
    include: ["bench/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
