/**
 * A user room's channel (`socket.io#/#user:{…}#`) may be published on by
 * more than the replicas: the direct-writer ACL user (dev/redis-acl.ts
 * directWriterAclRule) holds `&socket.io#/#user:*`. A replica delivers what
 * arrives there only as a broadcast of one of the server's room events to
 * exactly the room the channel names (pre-encoded-delivery.ts): not to every
 * socket (`rooms: []`), not to another user's room, not bytes that are not
 * JSON, and no other adapter message (DISCONNECT_SOCKETS…). Real
 * redis-server with its production ACL users, a real server.
 */
import { createMessageId, type Message } from "@scrollback/client/protocol";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { encodeRoomBroadcast, roomBroadcastMessage } from "../../server/src/realtime/adapter-wire-format.js";
import { STORE_SENDER_UID, userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { userRoom } from "../../server/src/realtime/rooms.js";
import { connect, nextEvent, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

const KEY_PREFIX = "temp_memory";
const [ALICE, BOB] = ["trust_alice", "trust_bob"];

let redis: RedisServer;
let server: TestServer;
let writer: Redis;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, KEY_PREFIX });
  writer = new Redis(redis.writerUrl);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  writer?.disconnect();
  await server?.close();
  await redis?.stop();
});

/** Every event a tab gets, and every disconnect, in order. */
async function tab(userId: string): Promise<{ socket: TestSocket; seen: string[] }> {
  const socket = await connect(server.url, { userId });
  sockets.push(socket);
  const seen: string[] = [];
  socket.onAny((event: string, payload: unknown) => seen.push(`${event} ${JSON.stringify(payload)}`));
  socket.on("disconnect", (reason) => seen.push(`disconnect ${reason}`));
  return { socket, seen };
}

const message = (userId: string, content: string): Message => ({
  id: createMessageId(),
  userId,
  role: "assistant",
  content,
  timestamp: new Date().toISOString(),
});

/** The store's layout (adapter-wire-format.ts) for `event` to `room`, as a direct writer can forge it. */
const storeLayout = (room: string, event: string, payload: unknown) =>
  encodeRoomBroadcast({ uid: STORE_SENDER_UID, room, except: [], event, payload });

it("a user room's channel delivers only the server's events to that room: forged rooms, packets and adapter messages are dropped", async () => {
  const [alice, bob] = [await tab(ALICE), await tab(BOB)];
  const [aliceRoom, bobRoom] = [userRoom(KEY_PREFIX, ALICE), userRoom(KEY_PREFIX, BOB)];
  const aliceChannel = userRoomChannel(KEY_PREFIX, ALICE);
  await until(
    "the replica subscribed to both users' channels",
    async () => {
      const counts = (await redis.client().call("PUBSUB", "SHARDNUMSUB", aliceChannel, userRoomChannel(KEY_PREFIX, BOB))) as unknown[];
      return counts[1] === 1 && counts[3] === 1;
    },
    5_000,
    20,
  );

  const fake = message(BOB, "forged");
  const forgeries = [
    // (1) the store's layout, to every socket on the replica
    storeLayout(aliceRoom, "message:new", fake).replace(`"rooms":[${JSON.stringify(aliceRoom)}]`, '"rooms":[]'),
    // (2) the store's layout, to another user's room
    storeLayout(bobRoom, "message:new", fake),
    // (3) the store's layout, a packet that is not JSON (clients would disconnect with "parse error")
    storeLayout(aliceRoom, "message:new", "x").replace('["message:new","x"]', "[garbage not json]"),
    // an event the server never sends to a room, or a packet of another shape
    storeLayout(aliceRoom, "auth:expired", {}),
    storeLayout(aliceRoom, "message:new", "x").replace('["message:new","x"]', '["message:new",{},1]'),
    // another sender's id in the store's layout: the stock path, which checks the room too
    encodeRoomBroadcast({ uid: "not-the-store", room: bobRoom, except: [], event: "message:new", payload: fake }),
    // the stock adapter's own layout, to every socket and to another room
    JSON.stringify({
      ...roomBroadcastMessage({ uid: "x", room: aliceRoom, except: [], event: "message:new", payload: fake }),
      data: { packet: { type: 2, data: ["message:new", fake] }, opts: { rooms: [], except: [], flags: {} } },
    }),
    JSON.stringify(roomBroadcastMessage({ uid: "x", room: bobRoom, except: [], event: "message:new", payload: fake })),
    // other adapter messages: disconnect every socket, make sockets join a room
    JSON.stringify({ uid: "x", nsp: "/", type: 6, data: { opts: { rooms: [], except: [] }, close: true } }),
    JSON.stringify({ uid: "x", nsp: "/", type: 4, data: { opts: { rooms: [], except: [] }, rooms: [aliceRoom] } }),
    // not JSON at all
    "{garbage",
  ];
  for (const forged of forgeries) await writer.spublish(aliceChannel, forged);

  // What the store publishes still arrives (the fast path), after everything above: one connection, one order.
  const [genuineA, genuineB] = [message(ALICE, "genuine for alice"), message(BOB, "genuine for bob")];
  const arrivals = [nextEvent(alice.socket, "message:new"), nextEvent(bob.socket, "message:new")];
  await writer.spublish(aliceChannel, storeLayout(aliceRoom, "message:new", genuineA));
  await writer.spublish(userRoomChannel(KEY_PREFIX, BOB), storeLayout(bobRoom, "message:new", genuineB));
  await Promise.all(arrivals);
  // A round trip on each tab: anything written to it before the genuine broadcast has been read.
  await requestOk(alice.socket, "history:load", {});
  await requestOk(bob.socket, "history:load", {});

  expect(alice.seen).toEqual([`message:new ${JSON.stringify(genuineA)}`]);
  expect(bob.seen).toEqual([`message:new ${JSON.stringify(genuineB)}`]);
  expect([alice.socket.connected, bob.socket.connected]).toEqual([true, true]);
  // The server is up and its own fan-out works: bob's add reaches bob's other tab.
  const other = await tab(BOB);
  const added = nextEvent(other.socket, "message:new");
  const ack = await requestOk(bob.socket, "message:add", { content: "still up" });
  expect(await added).toEqual(ack.message);
});
