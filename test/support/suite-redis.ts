/**
 * A suite's own throwaway redis-server, started before its tests and stopped
 * after them, with one admin client (every right, closed by the stop) for
 * reading or tampering with what the code under test wrote.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { type RedisServer, type RedisServerOptions, startRedis } from "../../dev/redis-server.js";
import { RedisStore } from "../../server/src/store/redis-store.js";
import type { StoreSettings } from "../../server/src/store/store.js";
import { suiteValue } from "./suite-value.js";

export interface SuiteRedis {
  /** The server (set once the suite started). */
  readonly server: RedisServer;
  /** A client as the admin user, shared by the suite. */
  readonly admin: Redis;
}

export function useSuiteRedis(options: RedisServerOptions = {}): SuiteRedis {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis(options);
    admin = server.client();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      return suiteValue(server, "Redis");
    },
    get admin() {
      return suiteValue(admin, "Redis admin client");
    },
  };
}

/**
 * {@link useSuiteRedis} with a RedisStore on it, for suites that drive the
 * store directly: key prefix `temp_memory`, 100 messages kept an hour, and
 * `settings` on top (draft bounds, say).
 */
export function useSuiteRedisStore(settings: Partial<StoreSettings> = {}): SuiteRedis & { readonly store: RedisStore } {
  const redis = useSuiteRedis();
  let store: RedisStore | undefined;
  beforeAll(() => {
    store = new RedisStore({
      client: redis.server.client(),
      keyPrefix: "temp_memory",
      historyMax: 100,
      historyTtlSeconds: 3_600,
      ...settings,
    });
  });
  return {
    get server() {
      return redis.server;
    },
    get admin() {
      return redis.admin;
    },
    get store() {
      return suiteValue(store, "RedisStore");
    },
  };
}
