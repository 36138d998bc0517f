/**
 * /readyz and /metrics ping the store on every request (PROTOCOL.md §5);
 * requests that arrive while a ping is in flight share it, so a flood of
 * them (/readyz is public behind the load balancer) costs Redis a handful
 * of PINGs (one per PING_REUSE_MS at most), not one per request.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { PING_REUSE_MS } from "../../server/src/store/redis-store.js";
import { startServer, type TestServer } from "../support/servers.js";

let redis: RedisServer;
let inspector: Redis;
let server: TestServer;

/** How many PINGs Redis has run since it started. */
async function pingsRun(): Promise<number> {
  const stats = await inspector.info("commandstats");
  return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

beforeAll(async () => {
  redis = await startRedis();
  inspector = redis.client();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url });
});

afterAll(async () => {
  await server?.close();
  inspector?.disconnect();
  await redis?.stop();
});

describe("a flood of readiness checks", () => {
  it.each(["/readyz", "/metrics"])("200 concurrent %s cost Redis a handful of PINGs", async (path) => {
    // Past the reuse of the previous test's answer: this flood pings afresh.
    await new Promise((resolve) => setTimeout(resolve, PING_REUSE_MS));
    const before = await pingsRun();
    const started = Date.now();
    const statuses = await Promise.all(Array.from({ length: 200 }, async () => (await fetch(`${server.url}${path}`)).status));
    const took = Date.now() - started;
    const sent = (await pingsRun()) - before;
    expect(statuses.every((status) => status === 200)).toBe(true);
    // At most one in flight, and none while an answer is fresh.
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(Math.ceil(took / PING_REUSE_MS) + 1);
    expect(sent).toBeLessThanOrEqual(20);
  });
});
