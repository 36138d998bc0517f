/**
 * The outbox (issue 3, "nothing lost, nothing doubled"): every add keeps its
 * client id through Redis outages and rate limits, is resent in order, and is
 * stored exactly once; only a non-retryable refusal or the caller giving up
 * rejects the promise; an opt-in persisted outbox survives a page reload.
 */
import { type ConnectionOptions, connect, type ScrollbackClient, ScrollbackError } from "@scrollback/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";
import { eventCount, ids, memoryStorage, nextClientEvent, waitForStatus } from "./sdk-helpers.js";

let redis: RedisServer;
let server: TestServer;
let clients: ScrollbackClient[];

async function start(env: Record<string, string> = {}): Promise<void> {
  redis = await startRedis({ appendOnly: true });
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, ...env });
}
beforeEach(() => {
  clients = [];
});
afterEach(async () => {
  for (const client of clients) client.close();
  await server?.close();
  await redis?.stop();
});

function open(userId: string, options: ConnectionOptions = {}): ScrollbackClient {
  const client = connect(server.url, { userId, backoff: { initialMs: 50, maxMs: 400 }, ...options });
  clients.push(client);
  return client;
}

const stored = async (userId: string) =>
  (await redis.client().lrange(`temp_memory:${userId}:messages`, 0, -1)).map((raw) => JSON.parse(raw) as { id: string; content: string });

describe("through a Redis outage", () => {
  it("holds adds while Redis is down (SIGKILL), then stores each exactly once, in order", async () => {
    await start();
    const client = open("outage_sdk_user");
    await waitForStatus(client, "online");
    await client.add({ id: "before", content: "before the outage" });

    await redis.kill();
    const adds = ["o1", "o2", "o3", "o4", "o5"].map((id) => client.add({ id, content: `during ${id}` }));
    const settled: string[] = [];
    for (const add of adds) void add.then((message) => settled.push(message.id));
    // The server refused at least one attempt with UNAVAILABLE, and nothing resolved.
    await until(
      "an add was refused with UNAVAILABLE",
      async () => (await eventCount(server.url, "message:add", "UNAVAILABLE")) >= 2,
      10_000,
      50,
    );
    expect(settled).toEqual([]);
    expect(ids(client.pending)).toEqual(["o1", "o2", "o3", "o4", "o5"]);

    await redis.restart();
    expect(ids(await Promise.all(adds))).toEqual(["o1", "o2", "o3", "o4", "o5"]);
    expect(settled).toEqual(["o1", "o2", "o3", "o4", "o5"]);
    expect(client.pending).toEqual([]);
    expect(ids(await stored("outage_sdk_user"))).toEqual(["before", "o1", "o2", "o3", "o4", "o5"]);
  });

  it("resends an add whose fate was unknown (Redis frozen: UNAVAILABLE after 2 s) and it is stored once", async () => {
    await start();
    const client = open("frozen_sdk_user");
    await waitForStatus(client, "online");
    redis.signal("SIGSTOP");
    let add: Promise<unknown> | undefined;
    try {
      add = client.add({ id: "frozen-1", content: "sent while Redis hangs" });
      await until(
        "the store timed out at least once",
        async () => (await eventCount(server.url, "message:add", "UNAVAILABLE")) >= 1,
        10_000,
        50,
      );
    } finally {
      redis.signal("SIGCONT");
    }
    await add;
    expect(ids(await stored("frozen_sdk_user"))).toEqual(["frozen-1"]);
  });
});

describe("rate limits", () => {
  it("honours RATE_LIMITED's retryAfterMs and stores a burst in order, each once", async () => {
    await start({ RATE_LIMIT_PER_SECOND: "20", RATE_LIMIT_BURST: "2" });
    const client = open("limited_sdk_user");
    await waitForStatus(client, "online");
    const wanted = Array.from({ length: 12 }, (_, i) => `r${String(i).padStart(2, "0")}`);
    const results = await Promise.all(wanted.map((id) => client.add({ id, content: id })));
    expect(ids(results)).toEqual(wanted);
    expect(await eventCount(server.url, "message:add", "RATE_LIMITED")).toBeGreaterThan(0);
    expect(ids(await stored("limited_sdk_user"))).toEqual(wanted.slice(-15));
  });
});

describe("what rejects an add", () => {
  it("rejects a non-retryable refusal with its code and goes on with the next message", async () => {
    await start({ MAX_MESSAGE_BYTES: "64" });
    const client = open("refused_sdk_user");
    const tooLarge = client.add({ id: "big", content: "x".repeat(65) });
    const tooManyKeys = client.add({
      id: "meta",
      content: "ok",
      meta: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
    });
    const fine = client.add({ id: "fine", content: "fits" });
    await expect(tooLarge).rejects.toMatchObject({ name: "ScrollbackError", code: "TOO_LARGE", messageId: "big" });
    await expect(tooManyKeys).rejects.toMatchObject({ code: "INVALID_PAYLOAD", messageId: "meta" });
    expect((await fine).id).toBe("fine");
    await expect(client.add({ content: "" })).rejects.toBeInstanceOf(ScrollbackError);
    expect(ids(await stored("refused_sdk_user"))).toEqual(["fine"]);
  });

  it("rejects when the caller gives up (AbortSignal or timeoutMs), and the message is not sent again", async () => {
    await start();
    const client = open("giving_up_user");
    await waitForStatus(client, "online");
    await redis.kill();
    const controller = new AbortController();
    const aborted = client.add({ id: "aborted", content: "never mind" }, { signal: controller.signal });
    const timedOut = client.add({ id: "timed-out", content: "too slow" }, { timeoutMs: 300 });
    const kept = client.add({ id: "kept", content: "still wanted" });
    controller.abort(new Error("user cancelled"));
    await expect(aborted).rejects.toThrow("user cancelled");
    await expect(timedOut).rejects.toMatchObject({ code: "TIMEOUT", messageId: "timed-out" });
    expect(ids(client.pending)).toEqual(["kept"]);
    await redis.restart();
    await kept;
    expect(ids(await stored("giving_up_user"))).toEqual(["kept"]);
  });

  it("rejects waiting adds with CLOSED on close()", async () => {
    await start();
    const client = open("closing_user");
    await waitForStatus(client, "online");
    await redis.kill();
    const add = client.add({ content: "left behind" });
    client.close();
    await expect(add).rejects.toMatchObject({ code: "CLOSED" });
    await expect(client.add({ content: "after close" })).rejects.toMatchObject({ code: "CLOSED" });
    await redis.restart();
    expect(await stored("closing_user")).toEqual([]);
  });
});

describe("a persisted outbox", () => {
  it("survives a reload: the next page of the same user sends it once; another user's page does not", async () => {
    await start();
    const storage = memoryStorage();
    const firstPage = open("persist_user", { persist: { storage } });
    await waitForStatus(firstPage, "online");
    await redis.kill();
    const lost = firstPage.add({ id: "survivor", content: "typed before the reload" });
    await until("the outbox was saved", () => storage.map.size === 1);
    firstPage.close(); // the page goes away
    await expect(lost).rejects.toMatchObject({ code: "CLOSED" });
    expect(JSON.parse(storage.getItem("scrollback:outbox:persist_user")!)).toEqual([
      { id: "survivor", content: "typed before the reload" },
    ]);

    const otherUser = open("someone_else", { persist: { storage } });
    expect(otherUser.pending).toEqual([]);
    await redis.restart();
    await waitForStatus(otherUser, "online");

    const nextPage = open("persist_user", { persist: { storage } });
    const shown = nextClientEvent(nextPage, "message");
    expect((await shown)[0].id).toBe("survivor");
    await until("the stored message left the persisted outbox", () => storage.getItem("scrollback:outbox:persist_user") === null);
    expect(ids(await stored("persist_user"))).toEqual(["survivor"]);
    expect(await stored("someone_else")).toEqual([]);
  });
});

describe("discarding a persisted outbox (issue 10)", () => {
  it("close({ discardOutbox: true }) deletes it, so the next page of that user sends nothing; a plain close keeps another user's", async () => {
    await start();
    const storage = memoryStorage();
    const leaving = open("leaving_user", { persist: { storage } });
    const staying = open("staying_user", { persist: { storage } });
    await Promise.all([waitForStatus(leaving, "online"), waitForStatus(staying, "online")]);
    await redis.kill();
    const lost = leaving.add({ id: "left-unsent", content: "typed before switching user" });
    const kept = staying.add({ id: "still-wanted", content: "typed by the user who stays" });
    await until("both outboxes were saved", () => storage.map.size === 2);

    leaving.close({ discardOutbox: true });
    staying.close();
    await expect(lost).rejects.toMatchObject({ code: "CLOSED" });
    await expect(kept).rejects.toMatchObject({ code: "CLOSED" });
    expect(storage.getItem("scrollback:outbox:leaving_user")).toBeNull();
    expect(storage.getItem("scrollback:outbox:staying_user")).not.toBeNull();

    await redis.restart();
    const back = open("leaving_user", { persist: { storage } });
    expect(back.pending).toEqual([]);
    await waitForStatus(back, "online");
    await back.add({ id: "after-coming-back", content: "typed after coming back" });
    expect(ids(await stored("leaving_user"))).toEqual(["after-coming-back"]);
  });
});
