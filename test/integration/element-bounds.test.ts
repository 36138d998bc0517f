/**
 * PROTOCOL.md §7: the bounds of a stored element — `content` by
 * MAX_MESSAGE_BYTES, `meta` by MAX_META_BYTES (its encoded JSON) and keys of
 * at most 64 characters — the same over Socket.IO and HTTP, on both stores.
 */

import type { MessageMeta } from "@scrollback/client/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, request, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

const TOKEN = "service-token-for-element-bounds";
/** The default MAX_META_BYTES: these servers leave it unset. */
const META_BYTES = 2048;

/** A one-key meta whose JSON (`{"k":"…"}`, 8 bytes around the value) is exactly `bytes` long. */
const metaOfBytes = (bytes: number): MessageMeta => ({ k: "v".repeat(bytes - 8) });

const refused: [string, MessageMeta][] = [
  ["one 900 KB value", { big: "x".repeat(900_000) }],
  ["JSON one byte over MAX_META_BYTES", metaOfBytes(META_BYTES + 1)],
  // 342 control characters: 350 UTF-8 bytes raw, but 2 060 once escaped in JSON.
  ["JSON over MAX_META_BYTES only once escaped", { k: "\u0001".repeat(342) }],
  ["a key of 65 characters", { ["k".repeat(65)]: 1 }],
  ["a key of 65 emoji", { ["\u{1F600}".repeat(65)]: 1 }],
];
const accepted: [string, MessageMeta][] = [
  ["JSON of exactly MAX_META_BYTES", metaOfBytes(META_BYTES)],
  ["a key of 64 characters", { ["k".repeat(64)]: 1 }],
  // Characters are code points: 64 emoji are 128 UTF-16 units, and still allowed.
  ["a key of 64 emoji", { ["\u{1F600}".repeat(64)]: 1 }],
];

describe.each(["memory", "redis"] as const)("element bounds on the %s store", (store) => {
  let redis: RedisServer | undefined;
  let server: TestServer;
  const sockets: TestSocket[] = [];
  let userCounter = 0;
  const freshUser = () => `bounds_${store}_${process.pid}_${userCounter++}`;

  beforeAll(async () => {
    if (store === "redis") redis = await startRedis();
    server = await startServer({ STORE: store, ...(redis ? { REDIS_URL: redis.url } : {}), SERVICE_TOKEN: TOKEN });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await server?.close();
    await redis?.stop();
  });

  const open = async (user: string) => {
    const socket = await connect(server.url, { userId: user });
    sockets.push(socket);
    return socket;
  };
  const post = (user: string, body: unknown) =>
    fetch(`${server.url}/api/v1/users/${user}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const storedCount = async (user: string) => {
    const res = await fetch(`${server.url}/api/v1/users/${user}/messages`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return ((await res.json()) as { messages: unknown[] }).messages.length;
  };

  it.each(refused)("refuses meta with %s: TOO_LARGE over Socket.IO, stores nothing", async (_name, meta) => {
    const user = freshUser();
    const ack = await request(await open(user), "message:add", { content: "hi", meta });
    expect(ack).toMatchObject({ ok: false, error: { code: "TOO_LARGE", message: expect.stringMatching(/^meta/) } });
    expect(await storedCount(user)).toBe(0);
  });

  it.each(refused)("refuses meta with %s: 413 TOO_LARGE over HTTP, stores nothing", async (_name, meta) => {
    const user = freshUser();
    const res = await post(user, { content: "hi", meta });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "TOO_LARGE", message: expect.stringMatching(/^meta/) } });
    expect(await storedCount(user)).toBe(0);
  });

  it.each(accepted)("stores meta with %s, over both transports", async (_name, meta) => {
    const user = freshUser();
    const ack = await requestOk(await open(user), "message:add", { content: "hi", meta });
    expect(ack.message.meta).toEqual(meta);
    expect((await post(user, { content: "hi", meta })).status).toBe(201);
    expect(await storedCount(user)).toBe(2);
  });
});
