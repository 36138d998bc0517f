/**
 * Property-based fuzzing of the HTTP API (PROTOCOL.md §5): random bytes
 * (invalid UTF-8 included) under any content type and encoding, JSON that
 * breaks one rule, hostile userIds and query strings. Every answer is a
 * documented status with `{ error: { code, message } }`, never a 5xx, and
 * nothing is stored.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { startServer, type TestServer } from "../support/servers.js";
import { anything, type Invalid, invalidAdd } from "./arbitraries.js";

const MAX_MESSAGE_BYTES = 1024;
const SERVICE_TOKEN = "fuzz-service-token";
const RUNS = 150;

let redis: RedisServer;
let client: Redis;
let server: TestServer;

beforeAll(async () => {
  redis = await startRedis();
  client = redis.client();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN, MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
});

afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

const messagesUrl = (userId: string) => `${server.url}/api/v1/users/${encodeURIComponent(userId)}/messages`;

async function post(userId: string, body: Buffer | string, headers: Record<string, string> = { "content-type": "application/json" }) {
  // A copy in its own ArrayBuffer: what fetch's BodyInit type accepts.
  const payload = typeof body === "string" ? body : new Uint8Array(body);
  const response = await fetch(messagesUrl(userId), {
    method: "POST",
    body: payload,
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, ...headers },
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string } } };
}

/** Every key in Redis: a refused request must not create one. */
const allKeys = () => client.keys("*");

const STATUS: Record<Invalid["code"], number> = { INVALID_PAYLOAD: 400, TOO_LARGE: 413 };

describe("POST bodies", () => {
  it("random bytes under any content type and encoding: 400 INVALID_PAYLOAD (413 when too large), nothing stored", async () => {
    const contentType = fc.constantFrom(
      undefined,
      "application/json",
      "text/plain",
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "application/json; charset=utf-16",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/octet-stream",
    );
    const encoding = fc.constantFrom(undefined, "identity", "gzip", "deflate", "br", "compress", "x-unknown");
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2_048 }).map((bytes) => Buffer.from(bytes)),
        contentType,
        encoding,
        async (bytes, type, coding) => {
          const headers: Record<string, string> = {};
          if (type) headers["content-type"] = type;
          if (coding) headers["content-encoding"] = coding;
          // Real gzip around the random bytes half the time, so the inflated body is random too.
          const body = coding === "gzip" && bytes.length % 2 === 0 ? gzipSync(bytes) : bytes;
          const { status, body: answer } = await post("fuzz_http", body, headers);
          expect([400, 413], JSON.stringify(answer)).toContain(status);
          expect(answer.error?.code).toBe(status === 413 ? "TOO_LARGE" : "INVALID_PAYLOAD");
          expect(typeof answer.error?.message).toBe("string");
        },
      ),
      { numRuns: RUNS },
    );
    expect(await allKeys()).toEqual([]);
  }, 120_000);

  it("a gzip bomb is refused as TOO_LARGE", async () => {
    const bomb = gzipSync(Buffer.alloc(50_000_000, 0x20));
    const { status, body } = await post("fuzz_http", bomb, { "content-type": "application/json", "content-encoding": "gzip" });
    expect(status).toBe(413);
    expect(body.error?.code).toBe("TOO_LARGE");
  });

  it("JSON that breaks one rule: the documented status and code, naming the field, nothing stored", async () => {
    await fc.assert(
      fc.asyncProperty(invalidAdd(MAX_MESSAGE_BYTES), async (invalid) => {
        // JSON has no Buffers: binary becomes the object JSON.stringify makes of it, which is invalid too.
        const { status, body } = await post("fuzz_http", JSON.stringify(invalid.payload) ?? "null");
        expect(status, JSON.stringify(body)).toBe(STATUS[invalid.code]);
        expect(body.error?.code).toBe(invalid.code);
        if (invalid.code === "INVALID_PAYLOAD" && !Buffer.isBuffer(invalid.payload))
          expect(body.error!.message.startsWith(invalid.field), body.error!.message).toBe(true);
      }),
      { numRuns: RUNS },
    );
    expect(await allKeys()).toEqual([]);
  }, 120_000);
});

describe("paths and query strings", () => {
  it("any userId in the path: 200 when it is valid, else 400 INVALID_PAYLOAD naming it", async () => {
    const userId = fc.oneof(
      fc.string({ maxLength: 140 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom("__proto__", "constructor", "..", ".", "a/b", "x".repeat(129), "%", "\u0000"),
    );
    await fc.assert(
      fc.asyncProperty(userId, async (id) => {
        const response = await fetch(messagesUrl(id), { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
        const body = await response.json();
        if (id === "" || id === "." || id === "..") {
          // An empty segment, or dot segments fetch resolves: another path, no such route.
          expect(response.status).toBe(404);
          expect(body.error.code).toBe("NOT_FOUND");
        } else if (/^[A-Za-z0-9_.@:-]{1,128}$/.test(id)) {
          expect(response.status, JSON.stringify(body)).toBe(200);
        } else {
          expect(response.status, JSON.stringify(body)).toBe(400);
          expect(body.error.code).toBe("INVALID_PAYLOAD");
          expect(body.error.message.startsWith("payload"), body.error.message).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it("any query string: 200 or 400 INVALID_PAYLOAD, never a 5xx", async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.integer().map(String),
      fc.constantFrom("", "0", "1001", "1.5", "-1", "1e3", "NaN", "%00", "[]", "{}", "x".repeat(300)),
    );
    const param = fc.tuple(fc.constantFrom("limit", "afterId", "q", "limit[]", "q[a]", "__proto__", "constructor[prototype]"), value);
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 4 }), async (params) => {
        const query = new URLSearchParams(params).toString();
        const response = await fetch(`${messagesUrl("fuzz_query")}?${query}`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
        const body = await response.json();
        expect([200, 400], JSON.stringify(body)).toContain(response.status);
        if (response.status === 400) expect(body.error.code).toBe("INVALID_PAYLOAD");
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it("any JSON body on GET and DELETE is ignored, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(anything, fc.constantFrom("GET", "DELETE"), async (payload, method) => {
        const response = await fetch(messagesUrl("fuzz_verbs"), {
          method,
          headers: { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" },
          body: method === "GET" ? undefined : JSON.stringify(payload ?? null),
        });
        expect(response.status).toBe(200);
      }),
      { numRuns: 50 },
    );
  }, 60_000);
});
