/**
 * The fan-out subscriber connection survives a room created while it is
 * still connecting: the adapter sends SSUBSCRIBE whenever a room appears, and
 * that must neither break the connection nor lose the subscription.
 */

import type { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { createRedisClient } from "../../server/src/redis-connections.js";
import { until } from "../support/wait.js";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

it("keeps a subscription sent between connect and ready, without a connection error", async () => {
  const sub = createRedisClient(
    { kind: "standalone", host: "127.0.0.1", port: redis.port, db: 0, username: redis.username, password: redis.password },
    "sub",
  ) as Redis;
  const errors: string[] = [];
  sub.on("error", (error: Error) => errors.push(error.message));
  // "connect" fires before ioredis's own start-up commands: the moment a
  // user's first connection can make the adapter subscribe.
  sub.once("connect", () => void sub.ssubscribe("socket.io#/#user:early#"));
  const received = new Promise<string>((resolve) => sub.on("smessage", (_channel: string, message: string) => resolve(message)));
  try {
    await new Promise((resolve) => sub.once("ready", resolve));
    const publisher = redis.client();
    // The subscription was sent, not awaited: publish until Redis has it.
    await until(
      "the early subscription is in place",
      async () => Number(await publisher.call("SPUBLISH", "socket.io#/#user:early#", "hello")) > 0,
      5_000,
      20,
    );
    expect(await received).toBe("hello");
    expect(errors).toEqual([]);
  } finally {
    sub.disconnect();
  }
});
