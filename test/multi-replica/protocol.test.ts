/**
 * PROTOCOL.md §2 and §4 over real socket.io-client connections to three
 * replicas sharing one real Redis.
 */
import type { AckError } from "@scrollback/client/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { collect, connect, nextEvent, request, requestOk, requestRaw, type TestSocket } from "../support/clients.js";
import { startReplicas, startServer, type TestServer } from "../support/servers.js";

let redis: RedisServer;
let replicas: TestServer[];
const sockets: TestSocket[] = [];
let userCounter = 0;

beforeAll(async () => {
  redis = await startRedis();
  replicas = await startReplicas(3, { STORE: "redis", REDIS_URL: redis.url, MAX_MESSAGE_BYTES: "64" });
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(replicas.map((replica) => replica.close()));
  await redis.stop();
});

/** A dev-mode connection of `userId` to replica `index`. */
async function open(userId: string, index = 0): Promise<TestSocket> {
  const socket = await connect(replicas[index]!.url, { userId });
  sockets.push(socket);
  return socket;
}

function freshUser(): string {
  return `proto_${process.pid}_${userCounter++}`;
}

describe("message:add", () => {
  it("stores the message, acks it and fans it out to the user's other connections on every replica", async () => {
    const user = freshUser();
    const sender = await open(user, 0);
    const onTwo = await open(user, 1);
    const onThree = await open(user, 2);
    const senderInbox = collect(sender, "message:new");
    const arrivals = Promise.all([nextEvent(onTwo, "message:new"), nextEvent(onThree, "message:new")]);

    const ack = await requestOk(sender, "message:add", { content: "hello", meta: { lang: "en" } });

    expect(ack).toMatchObject({
      ok: true,
      duplicate: false,
      message: { userId: user, role: "user", content: "hello", meta: { lang: "en" } },
    });
    expect(ack.message.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(new Date(ack.message.timestamp!).toISOString()).toBe(ack.message.timestamp);
    expect(await arrivals).toEqual([ack.message, ack.message]);
    // The sender got its ack, not an echo.
    await request(sender, "history:load");
    expect(senderInbox).toEqual([]);
  });

  it("writes the key and JSON operators read with redis-cli, with the TTL set", async () => {
    const user = freshUser();
    const socket = await open(user);
    const { message } = await requestOk(socket, "message:add", { id: "op-visible", role: "assistant", content: "for the operator" });
    const client = redis.client();
    const elements = await client.lrange(`temp_memory:${user}:messages`, 0, -1);
    expect(elements.map((element) => JSON.parse(element))).toEqual([
      { id: "op-visible", role: "assistant", content: "for the operator", timestamp: message.timestamp },
    ]);
    const ttl = await client.ttl(`temp_memory:${user}:messages`);
    expect(ttl).toBeGreaterThan(86_000);
  });

  it("is idempotent by id: a retry acks duplicate and fans nothing out", async () => {
    const user = freshUser();
    const sender = await open(user, 0);
    const other = await open(user, 1);
    const inbox = collect(other, "message:new");
    const first = await requestOk(sender, "message:add", { id: "retry-1", content: "once" });
    await nextEvent(other, "message:new").catch(() => undefined);
    const again = await request(sender, "message:add", { id: "retry-1", content: "once" });
    expect(again).toEqual({ ok: true, duplicate: true, message: first.message });
    // A message sent after the retry is the next thing the other tab sees.
    const next = nextEvent(other, "message:new");
    await request(sender, "message:add", { content: "after" });
    expect((await next).content).toBe("after");
    expect(inbox.map((m) => m.content)).toEqual(["once", "after"]);
    expect((await requestOk(sender, "history:load")).messages).toHaveLength(2);
  });

  it.each([
    [{}, "content"],
    [{ content: "" }, "content"],
    [{ content: 42 }, "content"],
    [{ content: "x", role: "admin" }, "role"],
    [{ content: "x", id: "has space" }, "id"],
    [{ content: "x", id: "a".repeat(65) }, "id"],
    [{ content: "x", meta: { nested: { deep: 1 } } }, "meta"],
    [{ content: "x", meta: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])) }, "meta"],
    [{ content: "x", meta: JSON.parse('{"__proto__": "polluted"}') }, "meta"],
    ["just a string", "payload"],
    [null, "payload"],
  ])("refuses %j with INVALID_PAYLOAD naming %s and stores nothing", async (payload, field) => {
    const user = freshUser();
    const socket = await open(user);
    const ack = await requestRaw<AckError>(socket, "message:add", payload);
    expect(ack.ok).toBe(false);
    expect(ack.error.code).toBe("INVALID_PAYLOAD");
    expect(ack.error.message).toContain(field);
    expect((await requestOk(socket, "history:load")).messages).toEqual([]);
  });

  it("refuses content over MAX_MESSAGE_BYTES counted in UTF-8 bytes with TOO_LARGE", async () => {
    const socket = await open(freshUser());
    expect(await request(socket, "message:add", { content: "a".repeat(64) })).toMatchObject({ ok: true });
    // 22 three-byte characters: 22 characters but 66 bytes.
    const ack = await request(socket, "message:add", { content: "€".repeat(22) });
    expect(ack).toMatchObject({ ok: false, error: { code: "TOO_LARGE" } });
    expect((await requestOk(socket, "history:load")).messages).toHaveLength(1);
  });
});

describe("history:load", () => {
  it("loads oldest first, with or without a payload, after an id, with a limit and a gap", async () => {
    const user = freshUser();
    const socket = await open(user, 0);
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push((await requestOk(socket, "message:add", { content: `m${i}` })).message.id);

    const other = await open(user, 2);
    const whole = await requestOk(other, "history:load");
    expect(whole.ok).toBe(true);
    expect(whole.gap).toBe(false);
    expect(whole.messages.map((m: { content: string }) => m.content)).toEqual(Array.from({ length: 15 }, (_, i) => `m${i + 2}`));
    expect(await request(other, "history:load", {})).toEqual(whole);

    expect(await request(other, "history:load", { afterId: ids[14] })).toMatchObject({
      ok: true,
      gap: false,
      messages: [{ content: "m15" }, { content: "m16" }],
    });
    const gone = await requestOk(other, "history:load", { afterId: ids[0] });
    expect(gone.gap).toBe(true);
    expect(gone.messages).toHaveLength(15);
    const limited = await request(other, "history:load", { afterId: ids[10], limit: 2 });
    expect(limited).toMatchObject({ gap: true, messages: [{ content: "m15" }, { content: "m16" }] });
  });

  it.each([[{ limit: 0 }], [{ limit: 1001 }], [{ limit: 1.5 }], [{ afterId: "" }], [{ limit: "5" }], ["x"]])(
    "refuses %j with INVALID_PAYLOAD",
    async (payload) => {
      const socket = await open(freshUser());
      expect(await requestRaw(socket, "history:load", payload)).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
    },
  );
});

describe("history:search", () => {
  it("matches content case-insensitively, narrowed by role and limit", async () => {
    const user = freshUser();
    const socket = await open(user, 1);
    await request(socket, "message:add", { content: "Paris is lovely" });
    await request(socket, "message:add", { role: "assistant", content: "PARIS has museums" });
    await request(socket, "message:add", { content: "Berlin" });
    const all = await requestOk(socket, "history:search", { query: "paris" });
    expect(all.messages.map((m: { content: string }) => m.content)).toEqual(["Paris is lovely", "PARIS has museums"]);
    expect((await requestOk(socket, "history:search", { query: "paris", role: "assistant" })).messages).toHaveLength(1);
    expect((await requestOk(socket, "history:search", { query: "paris", limit: 1 })).messages[0]!.content).toBe("PARIS has museums");
  });

  it.each([[{}], [{ query: "" }], [{ query: "q".repeat(257) }], [{ query: "a", role: "robot" }]])("refuses %j", async (payload) => {
    const socket = await open(freshUser());
    expect(await requestRaw(socket, "history:search", payload)).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
  });
});

describe("history:clear", () => {
  it("deletes the history and tells every connection of the user, the one that asked included", async () => {
    const user = freshUser();
    const socket = await open(user, 0);
    const other = await open(user, 2);
    const stranger = await open(freshUser(), 1);
    const strangerInbox = collect(stranger, "history:cleared");
    const ownInbox = collect(socket, "history:cleared");
    await request(socket, "message:add", { content: "a" });
    await request(socket, "message:add", { content: "b" });
    const cleared = [nextEvent(other, "history:cleared"), nextEvent(socket, "history:cleared")];
    expect(await request(socket, "history:clear", {})).toEqual({ ok: true, removed: 2 });
    expect(await Promise.all(cleared)).toEqual([{}, {}]);
    expect((await requestOk(other, "history:load")).messages).toEqual([]);
    const clearedAgain = nextEvent(socket, "history:cleared");
    expect(await request(socket, "history:clear")).toEqual({ ok: true, removed: 0 });
    await clearedAgain;
    expect(strangerInbox).toEqual([]);
    // Its own clears reach the asking connection on the user's channel, once each.
    expect(ownInbox).toEqual([{}, {}]);
  });
});

describe("isolation", () => {
  it("never shows one user's messages to another", async () => {
    const alice = freshUser();
    const bob = freshUser();
    const aliceSocket = await open(alice, 0);
    const bobSockets = [await open(bob, 0), await open(bob, 1), await open(bob, 2)];
    const bobInboxes = bobSockets.map((socket) => collect(socket, "message:new"));
    const aliceTwin = await open(alice, 1);
    const delivered = nextEvent(aliceTwin, "message:new");
    await request(aliceSocket, "message:add", { id: "shared-id", content: "alice's secret" });
    await delivered;
    // Bob sending the same id stores his own message: ids are per user.
    expect(await request(bobSockets[0]!, "message:add", { id: "shared-id", content: "bob's" })).toMatchObject({ duplicate: false });
    expect((await requestOk(bobSockets[1]!, "history:search", { query: "secret" })).messages).toEqual([]);
    expect(bobInboxes.flat().map((m) => m.content)).not.toContain("alice's secret");
  });
});

describe("unknown events, rate limit and frame size", () => {
  it("answers an unknown event that has an ack with UNKNOWN_EVENT", async () => {
    const socket = await open(freshUser());
    expect(await requestRaw(socket, "history:destroy", {})).toMatchObject({ ok: false, error: { code: "UNKNOWN_EVENT" } });
    expect(await request(socket, "history:load")).toMatchObject({ ok: true });
  });

  it("rate limits a connection with RATE_LIMITED and retryAfterMs, leaving other connections alone", async () => {
    const limited = await startServer({ STORE: "memory", RATE_LIMIT_PER_SECOND: "2", RATE_LIMIT_BURST: "3" });
    try {
      const socket = await connect(limited.url, { userId: "flooder" });
      const calm = await connect(limited.url, { userId: "calm" });
      sockets.push(socket, calm);
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => request(socket, "message:add", { content: `m${i}` })));
      expect(answers.filter((a) => a.ok)).toHaveLength(3);
      const refused = answers.filter((a) => !a.ok);
      expect(refused).toHaveLength(2);
      for (const answer of refused) {
        expect(answer.error.code).toBe("RATE_LIMITED");
        expect(answer.error.retryAfterMs).toBeGreaterThan(0);
        expect(answer.error.retryAfterMs).toBeLessThanOrEqual(500);
      }
      expect((await request(calm, "history:load")).ok).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, refused[0]!.error.retryAfterMs));
      expect((await requestOk(socket, "history:load")).messages).toHaveLength(3);
    } finally {
      await limited.close();
    }
  });

  it("closes a connection that sends a frame over 1 MB", async () => {
    const socket = await open(freshUser());
    const closed = nextEvent(socket, "disconnect");
    socket.emit("message:add", { content: "x".repeat(1_100_000) }, () => {});
    expect(await closed).toBe("transport close");
  });
});
