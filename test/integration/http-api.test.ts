/** PROTOCOL.md §5: every route and status, against two replicas sharing one real Redis. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { collect, connect, nextEvent, request, requestOk, type TestSocket } from "../support/clients.js";
import { startReplicas, startServer, type TestServer } from "../support/servers.js";

const TOKEN = "service-token-for-tests";
let redis: RedisServer;
let replicas: TestServer[];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  replicas = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: TOKEN, MAX_MESSAGE_BYTES: "100" });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(replicas.map((replica) => replica.close()));
  await redis.stop();
});

function api(path: string, init: RequestInit & { token?: string | null; replica?: number } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set("authorization", `Bearer ${init.token ?? TOKEN}`);
  return fetch(`${replicas[init.replica ?? 0]!.url}${path}`, { ...init, headers });
}

const post = (user: string, body: unknown, replica = 0) =>
  api(`/api/v1/users/${user}/messages`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json" },
    replica,
  });

async function socketOf(user: string, replica: number): Promise<TestSocket> {
  const socket = await connect(replicas[replica]!.url, { userId: user });
  sockets.push(socket);
  return socket;
}

describe("health", () => {
  it("GET /healthz answers 200", async () => {
    expect((await fetch(`${replicas[0]!.url}/healthz`)).status).toBe(200);
  });

  it("GET /readyz answers 200 with the store kind", async () => {
    const res = await fetch(`${replicas[1]!.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ store: "redis" });
  });

  it("GET / serves the page", async () => {
    const res = await fetch(`${replicas[0]!.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
  });
});

describe("POST /api/v1/users/:userId/messages", () => {
  it("stores with 201, sends message:new to every connection of the user on every replica, and 200 on a retry", async () => {
    const tabs = [await socketOf("api_alice", 0), await socketOf("api_alice", 1)];
    const arrivals = Promise.all(tabs.map((tab) => nextEvent(tab, "message:new")));
    const res = await post(
      "api_alice",
      { id: "llm-reply-1", role: "assistant", content: "Hello from the model", meta: { model: "m1" } },
      1,
    );
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toMatchObject({
      duplicate: false,
      message: { id: "llm-reply-1", userId: "api_alice", role: "assistant", content: "Hello from the model", meta: { model: "m1" } },
    });
    expect(await arrivals).toEqual([body.message, body.message]);

    const inbox = collect(tabs[0]!, "message:new");
    const retry = await post("api_alice", { id: "llm-reply-1", role: "assistant", content: "Hello from the model" });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ duplicate: true, message: body.message });
    expect((await requestOk(tabs[0]!, "history:load")).messages).toHaveLength(1);
    expect(inbox).toEqual([]);
  });

  it("answers exactly the contract's fields, over HTTP and in the Socket.IO acks, on the Redis store", async () => {
    const keysOf = (body: object) => Object.keys(body).sort();
    const tab = await socketOf("api_fields", 0);
    for (const id of ["fields-1", "fields-1"]) {
      expect(keysOf(await (await post("api_fields", { id, content: "over HTTP" })).json())).toEqual(["duplicate", "message"]);
      expect(keysOf(await request(tab, "message:add", { id: `${id}-socket`, content: "over Socket.IO" }))).toEqual([
        "duplicate",
        "message",
        "ok",
      ]);
    }
    expect(keysOf(await (await api("/api/v1/users/api_fields/messages")).json())).toEqual(["gap", "messages"]);
    expect(keysOf(await request(tab, "history:load", {}))).toEqual(["drafts", "gap", "messages", "ok"]);
  });

  it.each([
    ["not JSON", "{oops", 400, "INVALID_PAYLOAD"],
    ["a body without content", {}, 400, "INVALID_PAYLOAD"],
    ["a bad role", { content: "x", role: "root" }, 400, "INVALID_PAYLOAD"],
    ["content over MAX_MESSAGE_BYTES", { content: "é".repeat(51) }, 413, "TOO_LARGE"],
    ["a body over 1 MB", { content: "x".repeat(1_100_000) }, 413, "TOO_LARGE"],
  ])("refuses %s with %i %s and stores nothing", async (_name, body, status, code) => {
    const res = await post("api_refused", body);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: { code, message: expect.any(String) } });
    expect((await (await api("/api/v1/users/api_refused/messages")).json()).messages).toEqual([]);
  });

  it("refuses an invalid userId with 400", async () => {
    const res = await post("bad%20user", { content: "x" });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: "INVALID_PAYLOAD", message: expect.stringContaining("payload") });
  });
});

describe("GET /api/v1/users/:userId/messages", () => {
  beforeAll(async () => {
    for (let i = 0; i < 5; i++)
      await post("api_reader", { id: `r${i}`, content: i % 2 ? `Weather ${i}` : `news ${i}`, role: i === 3 ? "assistant" : "user" });
  });

  it("loads the window oldest first", async () => {
    const body = await (await api("/api/v1/users/api_reader/messages", { replica: 1 })).json();
    expect(body.gap).toBe(false);
    expect(body.messages.map((m: { id: string }) => m.id)).toEqual(["r0", "r1", "r2", "r3", "r4"]);
  });

  it("honours afterId and limit, with gap", async () => {
    expect((await (await api("/api/v1/users/api_reader/messages?afterId=r2")).json()).messages.map((m: { id: string }) => m.id)).toEqual([
      "r3",
      "r4",
    ]);
    expect(await (await api("/api/v1/users/api_reader/messages?afterId=r0&limit=2")).json()).toMatchObject({
      gap: true,
      messages: [{ id: "r3" }, { id: "r4" }],
    });
    expect(await (await api("/api/v1/users/api_reader/messages?afterId=gone")).json()).toMatchObject({ gap: true });
  });

  it("searches with q", async () => {
    const body = await (await api("/api/v1/users/api_reader/messages?q=WEATHER&limit=1")).json();
    expect(body).toEqual({ gap: false, messages: [expect.objectContaining({ id: "r3", content: "Weather 3" })] });
  });

  it.each(["limit=0", "limit=abc", "limit=1001", "afterId=no%20spaces", `q=${"q".repeat(257)}`, "q="])(
    "refuses ?%s with 400",
    async (query) => {
      const res = await api(`/api/v1/users/api_reader/messages?${query}`);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe("INVALID_PAYLOAD");
    },
  );
});

describe("DELETE /api/v1/users/:userId/messages", () => {
  it("answers removed and sends history:cleared to every connection of the user", async () => {
    await post("api_clear", { content: "a" });
    await post("api_clear", { content: "b" });
    const tab = await socketOf("api_clear", 1);
    const cleared = nextEvent(tab, "history:cleared");
    const res = await api("/api/v1/users/api_clear/messages", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ removed: 2 });
    expect(await cleared).toEqual({});
    expect(await (await api("/api/v1/users/api_clear/messages", { method: "DELETE" })).json()).toEqual({ removed: 0 });
  });
});

describe("service token", () => {
  it.each([
    ["no Authorization header", null],
    ["a wrong token", "wrong"],
    ["a token of another length", `${TOKEN}x`],
  ])("answers 401 to %s", async (_name, token) => {
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await api("/api/v1/users/api_alice/messages", { method, token, body: method === "POST" ? "{}" : undefined });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe("UNAUTHORIZED");
    }
  });

  it("takes the Bearer scheme in any case (RFC 7235)", async () => {
    const res = await fetch(`${replicas[0]!.url}/api/v1/users/api_alice/messages`, { headers: { authorization: `bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
  });

  it("answers 404 on every /api/v1 route when SERVICE_TOKEN is unset", async () => {
    const closed = await startServer({ STORE: "memory" });
    try {
      for (const method of ["GET", "POST", "DELETE"]) {
        const res = await fetch(`${closed.url}/api/v1/users/someone/messages`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
        expect(res.status).toBe(404);
      }
    } finally {
      await closed.close();
    }
  });
});

describe("GET /metrics", () => {
  it("exposes connections, events by name and outcome, store latency, Redis up and skipped elements", async () => {
    const socket = await socketOf("api_metrics", 0);
    await request(socket, "message:add", { content: "counted" });
    await request(socket, "message:add", { content: "" });
    await redis.client().rpush("temp_memory:api_metrics:messages", "garbage");
    await request(socket, "history:load");
    const text = await (await fetch(`${replicas[0]!.url}/metrics`)).text();
    expect(text).toMatch(/^scrollback_connections \d+/m);
    expect(text).toMatch(/^scrollback_events_total\{event="message:add",outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^scrollback_events_total\{event="message:add",outcome="INVALID_PAYLOAD"\} [1-9]/m);
    expect(text).toMatch(/^scrollback_store_duration_seconds_count\{operation="append"\} [1-9]/m);
    expect(text).toMatch(/^scrollback_store_up 1$/m);
    expect(text).toMatch(/^scrollback_redis_up 1$/m);
    expect(text).toMatch(/^scrollback_skipped_elements_total [1-9]/m);
    expect(text).toMatch(/^scrollback_http_requests_total\{route="add",status="201"\} [1-9]/m);
  });
});

describe("exact routes", () => {
  it("answers only the exact, case-sensitive path: other spellings are 404, as a proxy rule for the exact path expects", async () => {
    const base = replicas[0]!.url;
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(`${base}${path}`)).status).toBe(200);
    for (const path of [
      "/metrics/",
      "/METRICS",
      "/Metrics",
      "/%6detrics",
      "/HEALTHZ",
      "/healthz/",
      "/Readyz",
      "/readyz/",
      "/widget/app.css/",
      "/WIDGET/app.css",
    ]) {
      expect({ path, status: (await fetch(`${base}${path}`)).status }).toEqual({ path, status: 404 });
    }
    expect((await api("/api/v1/users/exact_alice/messages")).status).toBe(200);
    for (const path of [
      "/API/v1/users/exact_alice/messages",
      "/api/V1/users/exact_alice/messages",
      "/api/v1/users/exact_alice/messages/",
      "/api/v1/USERS/exact_alice/messages",
    ]) {
      expect({ path, status: (await api(path)).status }).toEqual({ path, status: 404 });
    }
  });
});
