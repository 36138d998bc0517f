/**
 * A replica whose fan-out subscriber connection drops misses what is
 * published meanwhile; its tabs are disconnected once it is back, so each
 * reconnects and catches up (PROTOCOL.md §4). Repro: two tabs on one
 * replica, the subscriber's connection killed, one tab adds.
 */
import { connect as connectClient, type ScrollbackClient } from "@scrollback/client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { ids, waitForStatus, watchTimeline } from "../sdk/sdk-helpers.js";
import { connect, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

let redis: RedisServer;
let server: TestServer;
const sockets: TestSocket[] = [];
const clients: ScrollbackClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url });
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const client of clients) client.close();
  await server.close();
  await redis.stop();
});

/** Kills the replica's `scrollback:sub` connection (ioredis reconnects it). */
async function killSubscriberConnection(): Promise<void> {
  const admin = redis.client();
  const list = String(await admin.client("LIST"));
  const line = list.split("\n").find((row) => row.includes("name=scrollback:sub "));
  const id = line?.match(/\bid=(\d+)/)?.[1];
  expect(id).toBeDefined();
  await admin.client("KILL", "ID", id!);
}

it("disconnects a raw tab whose replica lost its subscription, once the subscriber is back", async () => {
  const a = await connect(server.url, { userId: "sub_loss_raw" });
  const b = await connect(server.url, { userId: "sub_loss_raw" });
  sockets.push(a, b);
  const bDisconnected = new Promise<string>((resolve) => b.once("disconnect", resolve));
  await killSubscriberConnection();
  await requestOk(a, "message:add", { content: "while the subscriber reconnects" });
  expect(await bDisconnected).toBe("io server disconnect");
});

it("through the SDK, the other tab ends up with the message added while the subscriber reconnected, once", async () => {
  const open = () => {
    const client = connectClient(server.url, { userId: "sub_loss_sdk", backoff: { initialMs: 100, maxMs: 500 } });
    clients.push(client);
    return client;
  };
  const a = open();
  const b = open();
  const timeline = watchTimeline(b);
  await Promise.all([waitForStatus(a, "online"), waitForStatus(b, "online")]);
  await a.add({ id: "before", content: "before" });
  await timeline.untilShown(1);

  await killSubscriberConnection();
  await a.add({ id: "during", content: "while the subscriber reconnects" });
  await timeline.untilShown(2);
  await a.add({ id: "after", content: "after" });
  await timeline.untilShown(3);

  expect(ids(timeline.shown)).toEqual(["before", "during", "after"]);
  expect(ids(timeline.emitted).filter((id) => id === "during")).toHaveLength(1);
});
