/**
 * A suite's own throwaway redis-server, started before its tests and stopped
 * after them, with one admin client (every right, closed by the stop) for
 * reading or tampering with what the code under test wrote.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { type RedisServer, type RedisServerOptions, startRedis } from "../../dev/redis-server.js";
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
