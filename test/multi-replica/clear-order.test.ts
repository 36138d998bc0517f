/**
 * Order is Redis's order: clears and adds sent at once from two replicas on
 * one Redis reach every listening tab, on both replicas, in the order Redis
 * applied them (history:cleared is published by clearHistory.lua, on the
 * channel appendMessage.lua publishes message:new on), so each tab ends up
 * showing exactly what Redis holds.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { interleaveClearsAndAdds } from "../support/clear-order.js";
import { connect, type TestSocket } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { idsOf } from "../support/workload.js";

let redis: RedisServer;
let replicas: TestServer[];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  replicas = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url, HISTORY_MAX: "1000", RATE_LIMIT_PER_SECOND: "0" });
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(replicas.map((replica) => replica.close()));
  await redis.stop();
});

async function open(userId: string, replica: number): Promise<TestSocket> {
  const socket = await connect(replicas[replica]!.url, { userId });
  sockets.push(socket);
  return socket;
}

it("every listening tab, on either replica, shows what Redis holds after each round of clears and adds sent from both replicas at once", async () => {
  const userId = "order_two_replicas";
  const writers = [await open(userId, 0), await open(userId, 1)];
  const listeners = [await open(userId, 0), await open(userId, 1)];
  const reader = redis.client();
  const readIds = async () => idsOf(await reader.lrange(`temp_memory:${userId}:messages`, 0, -1));
  expect(await interleaveClearsAndAdds({ writers, listeners, rounds: 40, addsPerRound: 2, tag: "two", readIds })).toEqual([]);
});
