/**
 * Order is Redis's order: clears and adds sent at once from two replicas on
 * one Redis reach every listening tab, on both replicas, in the order Redis
 * applied them (history:cleared is published by clearHistory.lua, on the
 * channel appendMessage.lua publishes message:new on), so each tab ends up
 * showing exactly what Redis holds.
 */
import { expect, it } from "vitest";
import { interleaveClearsAndAdds } from "../support/clear-order.js";
import { useReplicasOnRedis } from "../support/replicas-on-redis.js";
import { idsOf } from "../support/workload.js";

const fixture = useReplicasOnRedis(2, { HISTORY_MAX: "1000", RATE_LIMIT_PER_SECOND: "0" });
const open = fixture.open;

it("every listening tab, on either replica, shows what Redis holds after each round of clears and adds sent from both replicas at once", async () => {
  const userId = "order_two_replicas";
  const writers = [await open(userId, 0), await open(userId, 1)];
  const listeners = [await open(userId, 0), await open(userId, 1)];
  const reader = fixture.redis.client();
  const readIds = async () => idsOf(await reader.lrange(`temp_memory:${userId}:messages`, 0, -1));
  expect(await interleaveClearsAndAdds({ writers, listeners, rounds: 40, addsPerRound: 2, tag: "two", readIds })).toEqual([]);
});
