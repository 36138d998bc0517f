import { configDefaults, defineConfig } from "vitest/config";

/** The long fault-injection suites: `npm run test:chaos` (vitest.chaos.config.ts) runs them. */
export const CHAOS_TESTS = "test/chaos/**/*.test.ts";

export default defineConfig({
  // The workspace packages export their TypeScript sources under the "@scrollback/source"
  // condition, so tests run against src/ without a build step.
  resolve: { conditions: ["@scrollback/source"] },
  ssr: { resolve: { conditions: ["@scrollback/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, CHAOS_TESTS],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start their own redis-server and server processes; run files in
    // parallel but keep the 2-core machine from being oversubscribed.
    maxWorkers: 2,
  },
});
