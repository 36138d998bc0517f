/**
 * The fan-out rides in the store's write (appendMessage.lua publishes what
 * the Redis adapter would have published): one round trip per add on the
 * data connection, every other tab reached exactly once on every replica,
 * and the adapter's own routing kept (a room whose name is 20 characters
 * long goes through its main channel).
 */
import { expect, it } from "vitest";
import { countCommandsByRole } from "../../bench/redis-stats.js";
import { collect, nextEvent, request, requestOk, type TestSocket } from "../support/clients.js";
import { useReplicasOnRedis } from "../support/replicas-on-redis.js";

const fixture = useReplicasOnRedis(2);
const open = fixture.open;

/** Resolves with the first `message:new` on `socket` whose content is `content`. */
function arrivalOf(socket: TestSocket, content: string): Promise<void> {
  return new Promise((resolve) => socket.on("message:new", (message) => message.content === content && resolve()));
}

it("reaches every other tab exactly once, on the sender's replica and on the others", async () => {
  const sender = await open("fanout_once", 0);
  const sameReplica = await open("fanout_once", 0);
  const otherReplica = await open("fanout_once", 1);
  const inboxes = [sender, sameReplica, otherReplica].map((socket) => collect(socket, "message:new"));
  const farGotSecond = arrivalOf(otherReplica, "second");

  await request(sender, "message:add", { id: "fanout-once-1", content: "first" });
  await request(sender, "message:add", { content: "second" });
  await farGotSecond;
  // A message from the other replica comes through the same channel after
  // anything this replica published before it: once the sender's tab has it,
  // every echo of "first" and "second" has been seen too.
  const thirdArrivals = Promise.all([arrivalOf(sender, "third"), arrivalOf(sameReplica, "third")]);
  await request(otherReplica, "message:add", { content: "third" });
  await thirdArrivals;

  const contents = inboxes.map((inbox) => inbox.map((message) => message.content));
  expect(contents).toEqual([["third"], ["first", "second", "third"], ["first", "second"]]);
});

it("sends exactly one command per add on the data connection, with the publish inside the script", async () => {
  const sender = await open("fanout_one_trip", 0);
  const listener = await open("fanout_one_trip", 1);
  const adds = 20;
  const lastArrival = arrivalOf(listener, `m${adds - 1}`);
  const counts = await countCommandsByRole(fixture.redis.adminUrl, fixture.redis.client(), async () => {
    for (let i = 0; i < adds; i++)
      await request(sender, "message:add", i % 2 === 0 ? { content: `m${i}` } : { id: `trip-${i}`, content: `m${i}` });
    await lastArrival;
  });
  expect(counts.data).toEqual({ evalsha: adds });
  expect(counts.lua?.spublish).toBe(adds);
});

it("fans out for a user id whose plain room name would look like a socket id", async () => {
  // "user:" plus 15 characters is 20 long, which the adapter would send on its main channel: the
  // room carries the key now (rooms.ts), which avoids that length; a regression test all the same.
  const userId = "fifteen_chars_x";
  expect(`user:${userId}`).toHaveLength(20);
  const sender = await open(userId, 0);
  const listener = await open(userId, 1);
  const arrival = nextEvent(listener, "message:new");
  const { message } = await requestOk(sender, "message:add", { content: "routed" });
  expect(await arrival).toEqual(message);
});
