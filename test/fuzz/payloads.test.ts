/**
 * Property-based fuzzing of every client event (PROTOCOL.md §4) over real
 * socket.io-client connections to a real server on a real Redis: every
 * payload gets an ack with a known error code (never INTERNAL), an invalid
 * one gets INVALID_PAYLOAD or TOO_LARGE naming the field and changes
 * nothing, and nothing a client sends reaches Object.prototype.
 */
import { ERROR_CODES } from "@scrollback/client/protocol";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { type AckOf, connect, type OkAckOf, request, requestRaw, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { anything, type Invalid, invalidAdd, invalidClear, invalidLoad, invalidSearch, POLLUTION_KEYS } from "./arbitraries.js";

const MAX_MESSAGE_BYTES = 1024;
const RUNS = 300;

let redis: RedisServer;
let client: Redis;
let server: TestServer;
let socket: TestSocket;
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  redis = await startRedis();
  client = redis.client();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
  socket = await connect(server.url, { userId: "fuzz_victim" });
});

afterAll(async () => {
  socket?.close();
  await server?.close();
  await redis?.stop();
});

/** What is stored for `userId`, as raw elements. */
const stored = (userId: string) => client.lrange(`temp_memory:${userId}:messages`, 0, -1);

function expectRefusal(answer: { ok: boolean; error?: { code: string; message: string } }, expected: Invalid): void {
  expect(answer.ok, JSON.stringify(answer)).toBe(false);
  expect(answer.error!.code).toBe(expected.code);
  if (expected.code === "INVALID_PAYLOAD") expect(answer.error!.message.startsWith(expected.field), answer.error!.message).toBe(true);
  expect(Object.keys(answer.error!).sort()).toEqual(["code", "message"]);
}

describe("payloads that break a rule of PROTOCOL.md §4", () => {
  const cases: [string, fc.Arbitrary<Invalid>][] = [
    ["message:add", invalidAdd(MAX_MESSAGE_BYTES)],
    ["history:load", invalidLoad],
    ["history:search", invalidSearch],
    ["history:clear", invalidClear],
  ];

  it.each(cases)(
    "%s answers INVALID_PAYLOAD or TOO_LARGE naming the field, and stores nothing",
    async (event, arbitrary) => {
      // A message kept before the fuzzing: refused requests must leave it alone (clear included).
      await request(socket, "message:add", { id: "keep-me", content: "kept" });
      const before = await stored("fuzz_victim");
      await fc.assert(
        fc.asyncProperty(arbitrary, async (invalid) => {
          expectRefusal(await requestRaw(socket, event, invalid.payload), invalid);
        }),
        { numRuns: RUNS },
      );
      expect(await stored("fuzz_victim")).toEqual(before);
    },
    120_000,
  );
});

describe("anything at all, for every event", () => {
  it("always acks ok or a documented error code, never INTERNAL, and the connection survives", async () => {
    const events = fc.constantFrom("message:add", "history:load", "history:search", "history:clear");
    const codes = new Set<string>(Object.values(ERROR_CODES));
    await fc.assert(
      fc.asyncProperty(events, anything, async (event, payload) => {
        const answer = await requestRaw<AckOf<typeof event>>(socket, event, payload);
        if (answer.ok) return;
        expect(codes.has(answer.error.code), JSON.stringify(answer)).toBe(true);
        expect(answer.error.code).not.toBe("INTERNAL");
      }),
      { numRuns: RUNS * 2 },
    );
    expect(socket.connected).toBe(true);
  }, 120_000);

  it("accepts pollution keys beside valid fields but stores only the message's own fields", async () => {
    const user = await connect(server.url, { userId: "fuzz_pollution" });
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...POLLUTION_KEYS), fc.jsonValue({ maxDepth: 2 }), async (key, value) => {
          const payload = JSON.parse(`{"content":"hi","${key}":${JSON.stringify(value)}}`);
          const answer = await requestRaw<OkAckOf<"message:add">>(user, "message:add", payload);
          expect(answer.ok).toBe(true);
          expect(Object.keys(answer.message).sort()).toEqual(["content", "id", "role", "timestamp", "userId"]);
        }),
        { numRuns: 60 },
      );
      for (const element of await stored("fuzz_pollution")) {
        expect(Object.keys(JSON.parse(element)).sort()).toEqual(["content", "id", "role", "timestamp"]);
      }
    } finally {
      user.close();
    }
  }, 60_000);

  it("never reaches Object.prototype (the server runs in this process)", () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
