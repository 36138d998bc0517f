/** STORE=auto|redis|memory (PROTOCOL.md §1): never a silent fallback when Redis was configured. */
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis, TEST_REDIS_USERS } from "../../dev/redis-server.js";
import { createApp, type ScrollbackApp } from "../../server/src/app.js";
import { type Config, loadConfig } from "../../server/src/config.js";
import { connect, request } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function started(env: Record<string, string>): Promise<TestServer> {
  const server = await startServer(env);
  cleanups.push(() => server.close());
  return server;
}

describe("store selection", () => {
  it("STORE=memory serves from memory", async () => {
    const server = await started({ STORE: "memory" });
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ store: "memory" });
  });

  it.each([
    ["STORE=redis", { STORE: "redis" }],
    ["STORE=auto with a REDIS_* variable", { STORE: "auto" }],
  ])("%s with Redis down starts anyway, answers 503 and UNAVAILABLE, and heals when Redis appears", async (_name, env) => {
    const port = await freePort();
    const { username, password } = TEST_REDIS_USERS.server;
    const server = await started({
      ...env,
      REDIS_HOST: "127.0.0.1",
      REDIS_PORT: String(port),
      REDIS_USERNAME: username,
      REDIS_PASSWORD: password,
    });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    const socket = await connect(server.url, { userId: "late_redis" });
    cleanups.push(async () => void socket.close());
    expect(await request(socket, "message:add", { id: "early", content: "too early" })).toMatchObject({
      ok: false,
      error: { code: "UNAVAILABLE" },
    });

    const redis: RedisServer = await startRedis({ port });
    cleanups.push(() => redis.stop());
    await until("/readyz answers 200 once Redis is up", async () => (await fetch(`${server.url}/readyz`)).status === 200);
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ store: "redis" });
    expect(await request(socket, "message:add", { id: "early", content: "now" })).toMatchObject({ ok: true, duplicate: false });
    expect(await redis.client().llen("temp_memory:late_redis:messages")).toBe(1);
  });

  // auto without REDIS_* probes the default address; point that probe at our own ports, never the machine's 6379.
  async function autoProbe(port: number): Promise<ScrollbackApp> {
    const base = loadConfig({ LOG_LEVEL: "silent", HOST: "127.0.0.1", PORT: "0" });
    expect(base.store).toBe("auto-probe");
    const config: Config = { ...base, redis: { kind: "standalone", host: "127.0.0.1", port, db: 0 } };
    const app = await createApp(config, pino({ level: "silent" }));
    cleanups.push(() => app.close(500));
    return app;
  }

  it("auto without REDIS_* falls back to memory, with a warning, when the default Redis does not answer", async () => {
    const app = await autoProbe(await freePort());
    expect(app.store.kind).toBe("memory");
  });

  it("auto without REDIS_* uses the default Redis when it answers", async () => {
    // The default address is a Redis without users: the probe has no credentials to give.
    const redis = await startRedis({ acl: false });
    cleanups.push(() => redis.stop());
    const app = await autoProbe(redis.port);
    expect(app.store.kind).toBe("redis");
  });
});
