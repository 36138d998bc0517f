/**
 * The per-test fixture of the SDK suites: in-process servers, SDK clients
 * and at most one Redis, each started by the test that needs it and all
 * closed after that test (clients first, then servers, then Redis).
 */
import type { ScrollbackClient } from "@scrollback/client";
import { afterEach, beforeEach } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { startServer, type TestServer } from "./servers.js";

export interface SdkFixture {
  /** Starts a server, on the memory store unless `env` says otherwise. */
  serve(env?: Record<string, string>): Promise<TestServer>;
  /** Closes `server` now; it is not closed again after the test. */
  closeServer(server: TestServer): Promise<void>;
  /** Keeps `client` to close after the test, and returns it. */
  keep(client: ScrollbackClient): ScrollbackClient;
  /** Starts this test's Redis. */
  startRedis(): Promise<RedisServer>;
}

export function useSdkFixture(): SdkFixture {
  let servers: TestServer[] = [];
  let clients: ScrollbackClient[] = [];
  let redis: RedisServer | undefined;
  beforeEach(() => {
    servers = [];
    clients = [];
    redis = undefined;
  });
  afterEach(async () => {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.close()));
    await redis?.stop();
  });
  return {
    async serve(env = {}) {
      const server = await startServer({ STORE: "memory", ...env });
      servers.push(server);
      return server;
    },
    async closeServer(server) {
      servers = servers.filter((kept) => kept !== server);
      await server.close();
    },
    keep(client) {
      clients.push(client);
      return client;
    },
    async startRedis() {
      if (redis) throw new Error("this test already started its Redis");
      redis = await startRedis();
      return redis;
    },
  };
}
