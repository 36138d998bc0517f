/**
 * PROTOCOL.md §4: a client string with a lone UTF-16 surrogate (a cut-off
 * emoji) is refused with INVALID_PAYLOAD naming the field, over Socket.IO and
 * HTTP alike, and nothing is stored; a whole emoji (a surrogate pair) is fine.
 */

import type { AckError } from "@scrollback/client/protocol";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, requestOk, requestRaw, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

const TOKEN = "service-token-for-tests";
const USER = "surrogate_user";
let redis: RedisServer;
let client: Redis;
let server: TestServer;
let socket: TestSocket;

beforeAll(async () => {
  redis = await startRedis();
  client = redis.client();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: TOKEN });
  socket = await connect(server.url, { userId: USER });
});
afterAll(async () => {
  socket?.close();
  client?.disconnect();
  await server?.close();
  await redis?.stop();
});

const stored = () => client.lrange(`temp_memory:${USER}:messages`, 0, -1);

const refused: [string, string, unknown][] = [
  ["message:add", "content", { id: "lone-content", content: "cut off \uD83D" }],
  ["message:add", "content", { content: "\uDE00 starts with half" }],
  ["message:add", "meta", { content: "fine", meta: { "\uD83D": "key" } }],
  ["message:add", "meta.k", { content: "fine", meta: { k: "value \uDFFF" } }],
  ["history:search", "query", { query: "\uD800" }],
];

it.each(refused)("Socket.IO %s refuses a lone surrogate in %s with INVALID_PAYLOAD, and stores nothing", async (event, field, payload) => {
  const before = await stored();
  const answer = await requestRaw<AckError>(socket, event, payload);
  expect(answer).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
  expect(answer.error.message.startsWith(`${field}:`), answer.error.message).toBe(true);
  expect(await stored()).toEqual(before);
});

it.each(refused.filter(([event]) => event === "message:add"))(
  "HTTP POST refuses what %s refuses (%s): 400 INVALID_PAYLOAD, nothing stored",
  async (_event, field, payload) => {
    const before = await stored();
    const res = await fetch(`${server.url}/api/v1/users/${USER}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(payload),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("INVALID_PAYLOAD");
    expect(body.error.message.startsWith(`${field}:`), body.error.message).toBe(true);
    expect(await stored()).toEqual(before);
  },
);

it("keeps a whole emoji (a surrogate pair) in content, meta and query", async () => {
  const { message } = await requestOk(socket, "message:add", {
    id: "whole-emoji",
    content: "smile \uD83D\uDE00",
    meta: { "\uD83D\uDE00": "\uD83D\uDE00" },
  });
  expect(message.content).toBe("smile 😀");
  const { messages } = await requestOk(socket, "history:search", { query: "😀" });
  expect(messages.map((m) => m.id)).toEqual(["whole-emoji"]);
});
