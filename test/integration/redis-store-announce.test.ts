/**
 * RedisStore's `announce` hook: the new message published within the write
 * (one round trip), never for a duplicate, and never on a Cluster, where the
 * channel hashes to another slot than the user's key and the script may touch
 * only its key's slot.
 */
import { createMessageId } from "@scrollback/client/protocol";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RedisStore, type AppendAnnouncer } from "../../server/src/store/redis-store.js";
import type { NewMessage } from "../../server/src/store/store.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { startRedis, type RedisServer } from "../../dev/redis-server.js";

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

it("never announces on a Cluster: the hook is not even asked, and the write succeeds", async () => {
  const { announce, asked } = recordingAnnouncer();
  const store = new RedisStore({ ...settings, client: cluster.client(), announce });
  const result = await store.append("bob", newMessage("on the cluster"), { origin: "socket-2" });
  expect(result).toMatchObject({ duplicate: false, announced: false });
  expect(asked).toEqual([]);
  await store.close();
});
