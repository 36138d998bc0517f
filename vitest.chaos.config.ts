import { defineConfig } from "vitest/config";
import base, { CHAOS_TESTS } from "./vitest.config.js";

/**
 * `npm run test:chaos`: the long fault-injection tests (Redis killed,
 * frozen and cut off under load, replicas killed under the SDK, floods,
 * 10,000 connections). One file at a time: each one loads the whole machine.
 */
export default defineConfig({
  resolve: base.resolve,
  ssr: base.ssr,
  test: {
    include: [CHAOS_TESTS],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
