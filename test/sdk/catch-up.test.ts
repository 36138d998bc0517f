/**
 * Catch-up and dedupe (issue 3): after a reconnect the client loads what it
 * missed with `afterId` and emits each missed message once, in order; a gap
 * becomes a `reset`; the same message never shows twice, whichever way it came.
 */
import { connect, type ScrollbackClient } from "@scrollback/client";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { startTcpProxy } from "../chaos/tcp-proxy.js";
import { startReplicas, startServer, type TestServer } from "../support/servers.js";
import { ids, nextClientEvent, waitForStatus, watchTimeline } from "./sdk-helpers.js";

const SERVICE_TOKEN = "sdk-catch-up-service-token";
let redis: RedisServer;
let env: Record<string, string>;
let servers: TestServer[];
let clients: ScrollbackClient[];

beforeEach(async () => {
  redis = await startRedis();
  env = { STORE: "redis", REDIS_URL: redis.url, HISTORY_MAX: "5", SERVICE_TOKEN };
  servers = await startReplicas(2, env);
  clients = [];
});
afterEach(async () => {
  for (const client of clients) client.close();
  await Promise.all(servers.map((server) => server.close()));
  await redis.stop();
});

function open(url: string, userId: string): ScrollbackClient {
  const client = connect(url, { userId, backoff: { initialMs: 100, maxMs: 500 } });
  clients.push(client);
  return client;
}

/** Stops replica `index` (its clients are disconnected) and returns a function that starts it again on the same port. */
async function stopReplica(index: number): Promise<() => Promise<void>> {
  const stopped = servers[index]!;
  await stopped.close();
  return async () => {
    servers[index] = await startServer({ ...env, PORT: String(stopped.port) });
  };
}

describe("catch-up after a disconnect", () => {
  it("shows the kept window on first connect, then emits each missed message once, in order", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const writer = open(b.url, "catch_up_user");
    await writer.add({ id: "m1", content: "before the reader connects" });

    const reader = open(a.url, "catch_up_user");
    const timeline = watchTimeline(reader);
    await timeline.untilShown(1);
    expect(timeline.resets).toBe(1);

    const live = nextClientEvent(reader, "message");
    await writer.add({ id: "m2", content: "live" });
    expect((await live)[0].id).toBe("m2");

    const restart = await stopReplica(0);
    await waitForStatus(reader, "offline");
    for (const id of ["m3", "m4", "m5"]) await writer.add({ id, content: `missed ${id}` });
    await restart();

    await timeline.untilShown(5);
    expect(ids(timeline.shown)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(ids(timeline.emitted)).toEqual(["m2", "m3", "m4", "m5"]);
    expect(timeline.resets).toBe(1);
    await waitForStatus(reader, "online");
  });

  it("emits a reset with the whole window when more than the window was missed (gap)", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const writer = open(b.url, "gap_user");
    const reader = open(a.url, "gap_user");
    const timeline = watchTimeline(reader);
    await waitForStatus(reader, "online");
    await writer.add({ id: "g0", content: "seen" });
    await timeline.untilShown(1);

    const restart = await stopReplica(0);
    await waitForStatus(reader, "offline");
    for (let i = 1; i <= 7; i++) await writer.add({ id: `g${i}`, content: `missed ${i}` });
    const reset = nextClientEvent(reader, "reset");
    await restart();

    expect(ids((await reset)[0])).toEqual(["g3", "g4", "g5", "g6", "g7"]);
    expect(ids(timeline.emitted)).toEqual(["g0"]);
  });
});

describe("a message in transit when the connection dropped (issue 10)", () => {
  it("is delivered by the catch-up, once and in the server's order, though the client's own later add was acked", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    // Tab B's replica reaches Redis through a proxy that can stop the fan-out reaching it.
    const proxy = await startTcpProxy(redis);
    const deafening = await startServer({ ...env, REDIS_URL: proxy.url });
    onTestFinished(async () => {
      await deafening.close();
      await proxy.close();
    });
    const tabA = open(a.url, "transit_user");
    const tabB = connect([deafening.url, b.url], { userId: "transit_user", backoff: { initialMs: 100, maxMs: 500 } });
    clients.push(tabB);
    const timeline = watchTimeline(tabB);
    await Promise.all([waitForStatus(tabA, "online"), waitForStatus(tabB, "online")]);
    await tabA.add({ id: "t0", content: "seen live by both tabs" });
    await timeline.untilShown(1);

    expect(proxy.deafenSubscribers()).toBeGreaterThan(0);
    await tabA.add({ id: "t1", content: "tab A's, stored first, its message:new never reaches tab B" });
    await tabB.add({ id: "t2", content: "tab B's own, stored second and acked" });
    expect(ids(timeline.shown)).toEqual(["t0", "t2"]);

    // Tab B's connection drops; it reconnects to replica B and catches up.
    const offline = waitForStatus(tabB, "offline");
    await deafening.close();
    await offline;
    await waitForStatus(tabB, "online");
    expect(ids(timeline.shown)).toEqual(["t0", "t1", "t2"]);
    expect(ids(timeline.emitted).filter((id) => id === "t1").length).toBeLessThanOrEqual(1);
  });
});

describe("a clear while a catch-up is running", () => {
  it("drops what the catch-up held back and its answer: nothing older than the clear is shown after cleared", async () => {
    const [a] = servers as [TestServer];
    const writer = open(a.url, "clear_during_catch_up");
    await waitForStatus(writer, "online");
    await writer.add({ id: "old-1", content: "before the clear" });
    await writer.add({ id: "old-2", content: "before the clear too" });

    // The server answers the next connection's first history:load only once told to: its read is done, its ack waits.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let loadHeld!: () => void;
    const loadRead = new Promise<void>((resolve) => (loadHeld = resolve));
    let holding = true;
    a.app.io.on("connection", (socket) => {
      socket.use((packet, next) => {
        const ack = packet.at(-1);
        if (packet[0] === "history:load" && holding && typeof ack === "function") {
          holding = false;
          packet[packet.length - 1] = (answer: unknown) => {
            loadHeld();
            void released.then(() => ack(answer));
          };
        }
        next();
      });
    });

    const reader = open(a.url, "clear_during_catch_up");
    const timeline = watchTimeline(reader);
    const afterClear: string[] = [];
    let clearedSeen = false;
    reader.on("cleared", () => (clearedSeen = true));
    reader.on("message", (message) => clearedSeen && afterClear.push(message.id));
    reader.on("reset", (messages) => clearedSeen && afterClear.push(...messages.map((message) => `reset:${message.id}`)));
    await loadRead;

    // Meanwhile: a live message (held back by the catch-up), then the clear.
    await writer.add({ id: "old-3", content: "live, held back, then cleared" });
    const cleared = nextClientEvent(reader, "cleared");
    expect(await writer.clear()).toBe(3);
    await cleared;
    release();

    await waitForStatus(reader, "online");
    await writer.add({ id: "new-1", content: "after the clear" });
    await timeline.untilShown(1);
    expect(ids(timeline.shown)).toEqual(["new-1"]);
    expect(afterClear).toEqual(["new-1"]);
  });
});

describe("dedupe by id", () => {
  it("stores and shows a message once, whether it is added twice, concurrently, or again over HTTP", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const sender = open(a.url, "dedupe_user");
    const watcher = open(b.url, "dedupe_user");
    const senderTimeline = watchTimeline(sender);
    const watcherTimeline = watchTimeline(watcher);
    await Promise.all([waitForStatus(sender, "online"), waitForStatus(watcher, "online")]);

    const [first, second] = await Promise.all([
      sender.add({ id: "same-id", content: "only once" }),
      sender.add({ id: "same-id", content: "only once" }),
    ]);
    expect(first).toEqual(second);
    const again = await fetch(`${b.url}/api/v1/users/dedupe_user/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "same-id", content: "only once" }),
    });
    expect(again.status).toBe(200);
    // A later, different message proves the watcher has seen everything before it.
    await sender.add({ id: "after", content: "after" });
    await watcherTimeline.untilShown(2);

    expect(ids(senderTimeline.emitted)).toEqual(["same-id", "after"]);
    expect(ids(watcherTimeline.emitted)).toEqual(["same-id", "after"]);
    expect(await redis.client().lrange("temp_memory:dedupe_user:messages", 0, -1)).toHaveLength(2);
  });

  it("emits cleared on both connections and starts over from an empty history", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const one = open(a.url, "clear_user");
    const two = open(b.url, "clear_user");
    await Promise.all([waitForStatus(one, "online"), waitForStatus(two, "online")]);
    await one.add({ id: "c1", content: "to be cleared" });
    const cleared = nextClientEvent(two, "cleared");
    expect(await one.clear()).toBe(1);
    await cleared;
    const next = nextClientEvent(two, "message");
    await one.add({ id: "c2", content: "fresh start" });
    expect((await next)[0].id).toBe("c2");
    expect(ids((await one.load()).messages)).toEqual(["c2"]);
  });
});
