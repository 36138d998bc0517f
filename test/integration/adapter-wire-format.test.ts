/**
 * Our copy of the Redis adapter's message format (adapter-wire-format.ts)
 * against the real thing: real redis-server, real Socket.IO servers with
 * the sharded adapter as the replicas run it. Fails if an adapter upgrade
 * changes the format, the channel routing or the internals we call.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { io as ioClient } from "socket.io-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { decodeRoomBroadcast, encodeRoomBroadcast } from "../../server/src/realtime/adapter-wire-format.js";
import { createFanoutAdapter, prepareRoomBroadcast, userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { userRoom } from "../../server/src/realtime/rooms.js";
import { connect, nextEvent, type TestSocket } from "../support/clients.js";
import { until } from "../support/wait.js";

const USER = "wire_format";
const KEY_PREFIX = "temp_memory";
const ROOM = userRoom(KEY_PREFIX, USER);

interface Replica {
  io: Server;
  http: HttpServer;
  url: string;
}

let redis: RedisServer;
const replicas: Replica[] = [];
const sockets: TestSocket[] = [];

/** A bare Socket.IO server with the fan-out adapter; every connection joins the test user's room. */
async function startReplica(): Promise<Replica> {
  const http = createServer();
  const io = new Server(http, { adapter: createFanoutAdapter(redis.client(), redis.client()) });
  io.on("connection", (socket) => socket.join(ROOM));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const replica = { io, http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
  replicas.push(replica);
  return replica;
}

async function subscribers(channel: string): Promise<number> {
  const [, count] = (await redis.client().call("PUBSUB", "SHARDNUMSUB", channel)) as [string, number];
  return count;
}

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const { io } of replicas) await new Promise<void>((resolve) => io.close(() => resolve()));
  await redis?.stop();
});

it("a broadcast we encode, published on the channel the adapter computes, reaches a room member on another replica", async () => {
  const [sender, receiver] = [await startReplica(), await startReplica()];
  const member = await connect(receiver.url, {});
  sockets.push(member);
  await until(
    "the receiving adapter subscribed to the room's channel",
    async () => (await subscribers(userRoomChannel(KEY_PREFIX, USER))) > 0,
    5_000,
    20,
  );

  const message = { id: "wire-1", userId: USER, role: "user", content: "from our encoder", timestamp: new Date().toISOString() };
  const prepared = prepareRoomBroadcast(sender.io.of("/").adapter, ROOM, undefined, "message:new", message);
  expect(prepared, "fanout-adapter.ts no longer finds the adapter internals it needs").toBeDefined();
  expect(prepared!.channel).toBe(userRoomChannel(KEY_PREFIX, USER));
  const arrival = nextEvent(member, "message:new");
  await redis.client().spublish(prepared!.channel, prepared!.payload);
  expect(await arrival).toEqual(message);
});

it("a broadcast the adapter publishes is decoded by our module, and is what we would encode", async () => {
  const [sender] = replicas as [Replica];
  const listener = redis.client();
  const received = new Promise<Buffer>((resolve) => listener.on("smessageBuffer", (_channel: Buffer, raw: Buffer) => resolve(raw)));
  await listener.ssubscribe(userRoomChannel(KEY_PREFIX, USER));

  const message = {
    id: "wire-2",
    userId: USER,
    role: "assistant",
    content: "from the adapter",
    timestamp: new Date().toISOString(),
    meta: { n: 1 },
  };
  sender.io.to(ROOM).except("some-socket-id").emit("message:new", message);
  const raw = await received;
  const decoded = decodeRoomBroadcast(raw);
  const uid = (sender.io.of("/").adapter as unknown as { uid: string }).uid;
  expect(decoded).toEqual({ uid, room: ROOM, except: ["some-socket-id"], event: "message:new", payload: message });
  // The same message; only the key order differs.
  expect(JSON.parse(encodeRoomBroadcast(decoded!))).toEqual(JSON.parse(raw.toString("utf8")));
});

it("a receiving replica forwards our broadcasts undecoded and the adapter's own as before, in publish order, leaving out `except`, over WebSocket and polling", async () => {
  const [sender, receiver] = replicas as [Replica, Replica];
  const installed = Object.hasOwn(receiver.io.of("/").adapter, "onRawMessage");
  expect(installed, "pre-encoded-delivery.ts no longer finds the socket.io-adapter internals it needs").toBe(true);
  const excepted = await connect(receiver.url, {});
  const polling = ioClient(receiver.url, { transports: ["polling"], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    polling.once("connect", () => resolve());
    polling.once("connect_error", reject);
  });
  sockets.push(excepted, polling as unknown as TestSocket);
  const [member] = sockets as [TestSocket];
  const collect = (socket: { on(event: string, listener: (message: { id: string }) => void): unknown }) => {
    const ids: string[] = [];
    socket.on("message:new", (message) => ids.push(message.id));
    return ids;
  };
  const [memberIds, exceptedIds, pollingIds] = [collect(member), collect(excepted), collect(polling)];

  const ours = (id: string, except: string[]) => {
    const message = { id, userId: USER, role: "user", content: `ours ${id} "é" \u2028`, timestamp: new Date().toISOString() };
    const prepared = prepareRoomBroadcast(sender.io.of("/").adapter, ROOM, except[0], "message:new", message);
    return redis.client().spublish(prepared!.channel, prepared!.payload);
  };
  // One connection publishes both kinds, so Redis delivers them in this order.
  await ours("o1", [excepted.id!]);
  sender.io.to(ROOM).emit("message:new", { id: "s1", userId: USER, role: "user", content: "stock", timestamp: new Date().toISOString() });
  await ours("o2", []);
  await until(
    "every member has all it should get",
    async () => memberIds.length === 3 && pollingIds.length === 3 && exceptedIds.length === 2,
    5_000,
    20,
  );
  expect(memberIds).toEqual(["o1", "s1", "o2"]);
  expect(pollingIds).toEqual(["o1", "s1", "o2"]);
  expect(exceptedIds).toEqual(["s1", "o2"]);
});
