/**
 * RedisStore's `announce` and `announceClear` hooks: the new message, or the
 * clear, published within the write (one round trip), never for a duplicate;
 * on a Cluster too, on the user's room channel, which lives in the slot of
 * the user's key (rooms.ts), the only slot a script may touch.
 */
import { createMessageId } from "@scrollback/client/protocol";
import calculateSlot from "cluster-key-slot";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { type AppendAnnouncer, type ClearAnnouncer, RedisStore } from "../../server/src/store/redis-store.js";
import type { NewMessage } from "../../server/src/store/store.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";

let redis: RedisServer;
let cluster: RedisCluster;

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
});

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

const settings = { keyPrefix: "announce_test", historyMax: 10, historyTtlSeconds: 60 };
const newMessage = (content: string): NewMessage => ({ id: createMessageId(), role: "user", content, timestamp: new Date().toISOString() });

/** An announcer that records what it was asked, publishing on a channel named after the user. */
function recordingAnnouncer(): { announce: AppendAnnouncer; asked: { content: string; origin: string | undefined }[] } {
  const asked: { content: string; origin: string | undefined }[] = [];
  return {
    asked,
    announce: (message, origin) => {
      asked.push({ content: message.content, origin });
      return { channel: `announced:${message.userId}`, payload: message.content };
    },
  };
}

it("publishes a new message within the write, and nothing for a duplicate", async () => {
  const { announce, asked } = recordingAnnouncer();
  const store = new RedisStore({ ...settings, client: redis.client(), announce });
  const listener = redis.client();
  const heard: string[] = [];
  listener.on("smessage", (_channel: string, payload: string) => heard.push(payload));
  await listener.ssubscribe("announced:alice");

  const message = newMessage("hello");
  const first = await store.append("alice", message, { origin: "socket-1" });
  const again = await store.append("alice", message, { origin: "socket-1" });
  await listener.ping(); // the publish, if any, reached the listener before this reply
  expect([first.announced, again.duplicate, again.announced]).toEqual([true, true, undefined]);
  expect(asked).toEqual([
    { content: "hello", origin: "socket-1" },
    { content: "hello", origin: "socket-1" },
  ]);
  expect(heard).toEqual(["hello"]);
  await store.close();
});

it("announces a clear within the delete, on one Redis, with the origin it was given", async () => {
  const asked: (string | undefined)[] = [];
  const announceClear: ClearAnnouncer = (userId, origin) => {
    asked.push(origin);
    return { channel: `announced:${userId}`, payload: "cleared" };
  };
  const store = new RedisStore({ ...settings, client: redis.client(), announceClear });
  const listener = redis.client();
  const heard: string[] = [];
  listener.on("smessage", (_channel: string, payload: string) => heard.push(payload));
  await listener.ssubscribe("announced:carol");
  await store.append("carol", newMessage("to be cleared"));
  expect(await store.clear("carol", { origin: "socket-3" })).toEqual({ removed: 1, announced: true });
  await listener.ping();
  expect(asked).toEqual(["socket-3"]);
  expect(heard).toEqual(["cleared"]);
  await store.close();
});

it("announces adds and clears on a Cluster, on the user's room channel (in the slot of the user's key)", async () => {
  const channel = userRoomChannel(settings.keyPrefix, "bob");
  const announce: AppendAnnouncer = (message) => ({ channel, payload: message.content });
  const announceClear: ClearAnnouncer = () => ({ channel, payload: "cleared" });
  const store = new RedisStore({ ...settings, client: cluster.client(), announce, announceClear });
  // Subscribed on the master of the key's slot: where the script runs and publishes.
  const listener = (await cluster.masterOf(calculateSlot(messagesKey(settings.keyPrefix, "bob")))).client();
  const heard: string[] = [];
  listener.on("smessage", (_channel: string, payload: string) => heard.push(payload));
  await listener.ssubscribe(channel);
  expect(await store.append("bob", newMessage("on the cluster"), { origin: "socket-2" })).toMatchObject({
    duplicate: false,
    announced: true,
  });
  expect(await store.clear("bob")).toEqual({ removed: 1, announced: true });
  await listener.ping(); // the publishes, if any, reached the listener before this reply
  expect(heard).toEqual(["on the cluster", "cleared"]);
  listener.disconnect();
  await store.close();
});

it("refuses a write whose announcement channel hashes to another slot on a Cluster (why rooms carry the key as a hash tag)", async () => {
  const announce: AppendAnnouncer = (message) => ({ channel: `announced:${message.userId}`, payload: message.content });
  const store = new RedisStore({ ...settings, client: cluster.client(), announce });
  // "announced:dave" and "announce_test:dave:messages" hash to different slots.
  await expect(store.append("dave", newMessage("cross-slot"))).rejects.toMatchObject({ code: "INTERNAL" });
  await store.close();
});
