import { defineConfig } from "vitest/config";

export default defineConfig({
  // The workspace packages export their TypeScript sources under the "source"
  // condition, so tests run against src/ without a build step.
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start their own redis-server and server processes; run files in
    // parallel but keep the 2-core machine from being oversubscribed.
    maxWorkers: 2,
  },
});
