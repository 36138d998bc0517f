/**
 * The inbox stream (PROTOCOL.md §8) on one real Redis: what is appended and
 * when (sockets and the HTTP API alike, once per stored message, never for a
 * duplicate), trimming, a key that is not a stream, and backends reading it
 * with a consumer group (XREADGROUP, XACK, XAUTOCLAIM) as real consumers on
 * their own connections.
 */
import type { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { createApp } from "../../server/src/app.js";
import { type Config, loadConfig } from "../../server/src/config.js";
import { inboxQuotaKey, messagesKey } from "../../server/src/store/redis-keys.js";
import { collect, connect, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";

const TOKEN = "inbox-test-token";
const STREAM = "temp_memory:inbox";

let redis: RedisServer;
let reader: Redis;
const servers: TestServer[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  reader = redis.client();
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(servers.map((server) => server.close()));
  await redis?.stop();
});

async function serverWith(env: Record<string, string>): Promise<TestServer> {
  const server = await startServer({ STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: TOKEN, ...env });
  servers.push(server);
  await waitReady(server.url);
  return server;
}

async function socketOf(server: TestServer, userId: string): Promise<TestSocket> {
  const socket = await connect(server.url, { userId });
  sockets.push(socket);
  return socket;
}

function post(server: TestServer, userId: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${server.url}/api/v1/users/${userId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Every entry of `stream` as its fields, oldest first. */
async function entries(stream: string): Promise<Record<string, string>[]> {
  const raw = await reader.xrange(stream, "-", "+");
  return raw.map(([, fields]) => Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []))));
}

describe("with INBOX_STREAM set", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWith({ INBOX_STREAM: STREAM });
  });

  it("appends a user's message from a socket once, with userId, id and the Message as JSON; a duplicate appends nothing", async () => {
    const socket = await socketOf(server, "inbox_socket");
    const before = await reader.xlen(STREAM);
    const { message } = await requestOk(socket, "message:add", { id: "inbox-socket-1", content: "When is my report due?" });
    const again = await requestOk(socket, "message:add", { id: "inbox-socket-1", content: "When is my report due?" });
    expect(again.duplicate).toBe(true);
    const added = (await entries(STREAM)).slice(before);
    expect(added).toEqual([{ userId: "inbox_socket", id: "inbox-socket-1", message: JSON.stringify(message) }]);
    expect(JSON.parse(added[0]?.message ?? "null")).toEqual(message);
  });

  it("appends a user's message from the HTTP API, a server-assigned id included, and not an assistant's (INBOX_ROLES=user)", async () => {
    const before = await reader.xlen(STREAM);
    const asked = await post(server, "inbox_http", { content: "no id given" });
    expect(asked.status).toBe(201);
    const { message } = await asked.json();
    expect((await post(server, "inbox_http", { id: "reply-1", role: "assistant", content: "an answer" })).status).toBe(201);
    expect((await entries(STREAM)).slice(before)).toEqual([{ userId: "inbox_http", id: message.id, message: JSON.stringify(message) }]);
  });

  it("costs no extra round trip: each add is one EVALSHA, and the XADD runs inside it", async () => {
    const monitor = await redis.client().monitor();
    const sent: { args: string[]; source: string }[] = [];
    monitor.on("monitor", (_time: string, args: string[], source: string) => sent.push({ args, source }));
    try {
      for (let i = 0; i < 5; i++)
        expect((await post(server, "inbox_round_trips", { id: `trip-${i}`, content: "one trip" })).status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      monitor.disconnect();
    }
    const ofTheAdds = sent.filter(({ args }) => args.some((arg) => arg.includes("inbox_round_trips")) || args[0]?.toLowerCase() === "xadd");
    const fromClients = ofTheAdds.filter(({ source }) => source !== "lua").map(({ args }) => args[0]?.toLowerCase());
    expect(fromClients).toEqual(["evalsha", "evalsha", "evalsha", "evalsha", "evalsha"]);
    expect(ofTheAdds.filter(({ source, args }) => source === "lua" && args[0]?.toLowerCase() === "xadd")).toHaveLength(5);
  });

  it("appends as many entries as stored messages under concurrent adds from two replicas", async () => {
    const other = await serverWith({ INBOX_STREAM: STREAM });
    const before = await reader.xlen(STREAM);
    const ids = Array.from({ length: 200 }, (_, i) => `concurrent-${i}`);
    // Every id sent twice, once to each replica: one of the two is the duplicate.
    const answers = await Promise.all(
      ids.flatMap((id, i) => [server, other].map((replica) => post(replica, `inbox_concurrent_${i % 7}`, { id, content: id }))),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([...ids.map(() => 200), ...ids.map(() => 201)].sort());
    const added = (await entries(STREAM)).slice(before);
    expect(added.map((entry) => entry.id).sort()).toEqual([...ids].sort());
  });
});

describe("INBOX_ROLES and INBOX_MAXLEN", () => {
  it("takes every role listed", async () => {
    const server = await serverWith({ INBOX_STREAM: "temp_memory:inbox-roles", INBOX_ROLES: "user, assistant" });
    for (const role of ["user", "assistant", "system"]) {
      expect((await post(server, "inbox_roles", { id: `role-${role}`, role, content: role })).status).toBe(201);
    }
    expect((await entries("temp_memory:inbox-roles")).map((entry) => entry.id)).toEqual(["role-user", "role-assistant"]);
  });

  it("trims the stream to about INBOX_MAXLEN entries (MAXLEN ~: never under it, whole nodes of 100 over)", async () => {
    const server = await serverWith({ INBOX_STREAM: "temp_memory:inbox-trimmed", INBOX_MAXLEN: "100", INBOX_USER_PER_MINUTE: "0" });
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => post(server, `inbox_trim_${i % 10}`, { content: `${batch}-${i}` })));
    }
    const length = await reader.xlen("temp_memory:inbox-trimmed");
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThanOrEqual(200);
  });
});

describe("a key that is not a stream", () => {
  it("refuses the add with INTERNAL and stores nothing; once the key is a stream again, adds go through", async () => {
    await reader.set("temp_memory:inbox-broken", "not a stream");
    const server = await serverWith({ INBOX_STREAM: "temp_memory:inbox-broken" });
    const socket = await socketOf(server, "inbox_broken");
    const refused = await fetch(`${server.url}/api/v1/users/inbox_broken/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ id: "refused-1", content: "lost?" }),
    });
    expect(refused.status).toBe(500);
    expect((await refused.json()).error.code).toBe("INTERNAL");
    const ack = await new Promise<unknown>((resolve) => socket.emit("message:add", { id: "refused-2", content: "lost?" }, resolve));
    expect(ack).toMatchObject({ error: { code: "INTERNAL" } });
    expect(await reader.lrange(messagesKey("temp_memory", "inbox_broken"), 0, -1)).toEqual([]);
    expect(await reader.get("temp_memory:inbox-broken")).toBe("not a stream");
    const failures = (await server.app.metrics.inboxAppendFailures.get()).values.find((value) => value.labels.stored === "false");
    expect(failures?.value).toBe(2);
    // An assistant's message does not enter the inbox, so it is stored as usual.
    expect((await post(server, "inbox_broken", { id: "assistant-1", role: "assistant", content: "fine" })).status).toBe(201);

    await reader.del("temp_memory:inbox-broken");
    expect((await post(server, "inbox_broken", { id: "refused-1", content: "now" })).status).toBe(201);
    expect((await entries("temp_memory:inbox-broken")).map((entry) => entry.id)).toEqual(["refused-1"]);
  });
});

describe("an XADD that fails", () => {
  it("refuses the add with INTERNAL before anything is written: nothing stored, nothing announced, counted", async () => {
    // Another program planted the largest entry id there is: every `XADD … *` now fails.
    const stream = "temp_memory:inbox-maxed";
    await reader.xadd(stream, "18446744073709551615-18446744073709551615", "planted", "by another program");
    const server = await serverWith({ INBOX_STREAM: stream });
    const writer = await socketOf(server, "inbox_maxed");
    const otherTab = await socketOf(server, "inbox_maxed");
    const heard = collect(otherTab, "message:new");
    const ack = await new Promise<unknown>((resolve) => writer.emit("message:add", { id: "maxed-1", content: "lost?" }, resolve));
    expect(ack).toMatchObject({ error: { code: "INTERNAL" } });
    const refused = await post(server, "inbox_maxed", { id: "maxed-2", content: "lost?" });
    expect(refused.status).toBe(500);
    expect(await reader.llen(messagesKey("temp_memory", "inbox_maxed"))).toBe(0);
    expect(await reader.xlen(stream)).toBe(1);
    const failures = (await server.app.metrics.inboxAppendFailures.get()).values.find((value) => value.labels.stored === "false");
    expect(failures?.value).toBe(2);
    // An assistant's message, outside the inbox, goes through and is heard: the other tab was listening.
    expect((await post(server, "inbox_maxed", { id: "maxed-3", role: "assistant", content: "fine" })).status).toBe(201);
    await until("the other tab heard the assistant", () => heard.length > 0, 5_000);
    expect(heard.map((event) => event.id)).toEqual(["maxed-3"]);
  });
});

describe("entries older than HISTORY_TTL_SECONDS", () => {
  it("are trimmed at each append, by Redis's clock; younger ones stay", async () => {
    const stream = "temp_memory:inbox-aged";
    const ttlSeconds = 3_600;
    const now = Number((await reader.time())[0]) * 1000;
    const old = `${now - ttlSeconds * 1000 - 60_000}-0`;
    const young = `${now - ttlSeconds * 1000 + 60_000}-0`;
    await reader.xadd(stream, old, "id", "older than the TTL");
    await reader.xadd(stream, young, "id", "within the TTL");
    const server = await serverWith({ INBOX_STREAM: stream, HISTORY_TTL_SECONDS: String(ttlSeconds) });
    expect((await post(server, "inbox_aged", { id: "aged-1", content: "new" })).status).toBe(201);
    expect((await entries(stream)).map((entry) => entry.id)).toEqual(["within the TTL", "aged-1"]);
  });
});

describe("INBOX_USER_PER_MINUTE", () => {
  it("a user flooding is refused with RATE_LIMITED beyond 60 a minute, storing nothing, and cannot trim another user's unread entry", async () => {
    const stream = "temp_memory:inbox-quota";
    await reader.xgroup("CREATE", stream, "backend", "$", "MKSTREAM");
    const server = await serverWith({ INBOX_STREAM: stream, INBOX_MAXLEN: "100" });
    expect((await post(server, "inbox_victim", { id: "victim-1", content: "please read me" })).status).toBe(201);
    const answers = [];
    for (let i = 0; i < 250; i++) answers.push(await post(server, "inbox_flooder", { id: `flood-${i}`, content: `flood ${i}` }));
    expect(answers.slice(0, 60).map((answer) => answer.status)).toEqual(Array(60).fill(201));
    expect(answers.slice(60).every((answer) => answer.status === 429)).toBe(true);
    const body = await answers[60]!.json();
    expect(body.error.code).toBe("RATE_LIMITED");
    expect(body.error.retryAfterMs).toBeGreaterThan(0);
    expect(body.error.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Nothing of a refused add was stored: the window holds the accepted ones only.
    const kept = (await reader.lrange(messagesKey("temp_memory", "inbox_flooder"), 0, -1)).map((raw) => JSON.parse(raw).id);
    expect(kept).toEqual(Array.from({ length: 15 }, (_, i) => `flood-${45 + i}`));
    // The victim's entry is still there for the backend to read.
    const unread = (await reader.xreadgroup("GROUP", "backend", "b-1", "COUNT", 1000, "STREAMS", stream, ">")) as [
      string,
      [string, string[]][],
    ][];
    const ids = unread[0]![1].map(([, fields]) => fields[fields.indexOf("id") + 1]);
    expect(ids).toHaveLength(61);
    expect(ids[0]).toBe("victim-1");
    // The same over Socket.IO (quotas are per user, across transports and replicas).
    const socket = await socketOf(server, "inbox_flooder");
    const ack = await new Promise<unknown>((resolve) => socket.emit("message:add", { id: "flood-socket", content: "x" }, resolve));
    expect(ack).toMatchObject({ error: { code: "RATE_LIMITED", retryAfterMs: expect.any(Number) } });
    // A message outside INBOX_ROLES is not counted, and a retry of a kept one is still a duplicate.
    expect((await post(server, "inbox_flooder", { id: "reply-1", role: "assistant", content: "fine" })).status).toBe(201);
    expect((await post(server, "inbox_flooder", { id: "flood-59", content: "flood 59" })).status).toBe(200);
  });

  it("a quota key another program spoiled refuses the user's adds with INTERNAL, writing nothing, until it is deleted", async () => {
    const server = await serverWith({ INBOX_STREAM: "temp_memory:inbox-spoiled" });
    await reader.set(inboxQuotaKey("temp_memory", "inbox_spoiled"), "1.5");
    expect((await post(server, "inbox_spoiled", { id: "spoiled-1", content: "x" })).status).toBe(500);
    expect(await reader.llen(messagesKey("temp_memory", "inbox_spoiled"))).toBe(0);
    expect(await reader.exists("temp_memory:inbox-spoiled")).toBe(0);
    await reader.del(inboxQuotaKey("temp_memory", "inbox_spoiled"));
    expect((await post(server, "inbox_spoiled", { id: "spoiled-1", content: "x" })).status).toBe(201);
    expect(await reader.get(inboxQuotaKey("temp_memory", "inbox_spoiled"))).toBe("1");
  });
});

describe("backends reading with a consumer group", () => {
  const GROUP = "assistants";
  const consumers: Redis[] = [];
  let server: TestServer;
  let stream: string;
  let next = 0;

  beforeAll(async () => {
    stream = "temp_memory:inbox-group";
    server = await serverWith({ INBOX_STREAM: stream });
    await reader.xgroup("CREATE", stream, GROUP, "$", "MKSTREAM");
  });
  afterAll(() => {
    for (const consumer of consumers) consumer.disconnect();
  });

  /** A consumer on its own connection, as a separate backend process has. */
  function consumer(): Redis {
    const client = redis.client();
    consumers.push(client);
    return client;
  }

  /** Reads up to `count` new entries for `name`: [entry id, message id][]. */
  async function readNew(client: Redis, name: string, count: number, blockMs = 200): Promise<[string, string][]> {
    const answer = (await client.xreadgroup("GROUP", GROUP, name, "COUNT", count, "BLOCK", blockMs, "STREAMS", stream, ">")) as
      | [string, [string, string[]][]][]
      | null;
    return (answer?.[0]?.[1] ?? []).map(([entryId, fields]) => [entryId, fields[fields.indexOf("id") + 1]!]);
  }

  async function addUserMessages(count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => `group-${next++}`);
    await Promise.all(ids.map((id, i) => post(server, `inbox_group_${i % 10}`, { id, content: id })));
    return ids;
  }

  it("several consumers share the load, and every message reaches exactly one of them", async () => {
    const ids = await addUserMessages(300);
    const names = ["a", "b", "c"];
    const clients = names.map(() => consumer());
    const seen = new Map<string, string[]>(names.map((name) => [name, []]));
    // Each consumer reads a few at a time and acks after its "work", until the group has nothing new.
    await Promise.all(
      names.map(async (name, n) => {
        const client = clients[n]!;
        for (;;) {
          const batch = await readNew(client, name, 10, 100);
          if (batch.length === 0) return;
          seen.get(name)!.push(...batch.map(([, id]) => id));
          await new Promise((resolve) => setTimeout(resolve, 5));
          await client.xack(stream, GROUP, ...batch.map(([entryId]) => entryId));
        }
      }),
    );
    const all = [...seen.values()].flat();
    expect(all.sort()).toEqual([...ids].sort());
    for (const name of names) expect(seen.get(name)!.length, `consumer ${name}'s share`).toBeGreaterThan(30);
    expect(((await reader.xpending(stream, GROUP)) as [number])[0]).toBe(0);
  });

  it("what a consumer read and never acked (it was killed mid-work) is claimed by another with XAUTOCLAIM", async () => {
    const ids = await addUserMessages(20);
    const doomed = consumer();
    const taken = await readNew(doomed, "doomed", 100);
    expect(taken.map(([, id]) => id)).toEqual(ids);
    doomed.disconnect(); // its process died before XACK: the entries stay pending, owned by "doomed"

    const survivor = consumer();
    expect(await readNew(survivor, "survivor", 100, 50)).toEqual([]); // not new: pending elsewhere
    await new Promise((resolve) => setTimeout(resolve, 120));
    const [, claimed] = (await survivor.xautoclaim(stream, GROUP, "survivor", 100, "0-0", "COUNT", 100)) as [string, [string, string[]][]];
    expect(claimed.map(([, fields]) => fields[fields.indexOf("id") + 1])).toEqual(ids);
    // Claimed entries count a second delivery: a backend's reply must be idempotent (PROTOCOL.md §8).
    const pending = (await reader.xpending(stream, GROUP, "-", "+", 100)) as [string, string, number, number][];
    expect(pending.every(([, owner, , deliveries]) => owner === "survivor" && deliveries === 2)).toBe(true);
    await survivor.xack(stream, GROUP, ...claimed.map(([entryId]) => entryId));
    expect(((await reader.xpending(stream, GROUP)) as [number])[0]).toBe(0);
  });
});

describe("without Redis", () => {
  it("STORE=auto that finds no Redis stops at start instead of running without the inbox", async () => {
    const base = loadConfig({ LOG_LEVEL: "silent", HOST: "127.0.0.1", PORT: "0", INBOX_STREAM: STREAM });
    expect(base.store).toBe("auto-probe");
    // The probe pointed at a free port of ours, never the machine's 6379.
    const config: Config = { ...base, redis: { kind: "standalone", host: "127.0.0.1", port: await freePort(), db: 0 } };
    await expect(createApp(config, pino({ level: "silent" }))).rejects.toThrow(/INBOX_STREAM needs Redis/);
  });
});
