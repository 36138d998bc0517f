import { createHash } from "node:crypto";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DraftUpdate, Message } from "@scrollback/client/protocol";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { type AssistantProcess, startAssistant } from "../support/assistant-process.js";
import { connect, requestOk, signToken, TEST_SECRET, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";

const TOKEN = "assistant-examples-token";

let redis: RedisServer;
let reader: Redis;
const servers: TestServer[] = [];
const sockets: TestSocket[] = [];
const running = new Set<AssistantProcess>();

beforeAll(async () => {
  redis = await startRedis();
  reader = redis.client();
});
afterEach(async () => {
  await Promise.all([...running].map((assistant) => assistant.kill("SIGKILL")));
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(servers.map((server) => server.close()));
  await redis?.stop();
});

/** Starts an example assistant as the README says, on `stream`, and waits until it listens. */
function startOnStream(language: "python" | "node", stream: string, env: Record<string, string> = {}): Promise<AssistantProcess> {
  return startAssistant(language, {
    env: {
      SCROLLBACK_URL: servers.at(-1)!.url,
      // The Python one speaks the HTTP API; the Node one connects as the user (dev mode here, or AUTH_JWT_SECRET in env).
      ...(language === "python" ? { SERVICE_TOKEN: TOKEN } : {}),
      // As an operator would run it: a Redis user of its own that may only read the inbox (dev/redis-acl.ts).
      REDIS_URL: redis.assistantUrl,
      INBOX_STREAM: stream,
      ...env,
    },
    running,
    printTimeoutMs: 15_000,
  });
}

async function serverWithInbox(stream: string, env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer({
    STORE: "redis",
    REDIS_URL: redis.url,
    SERVICE_TOKEN: TOKEN,
    INBOX_STREAM: stream,
    HISTORY_MAX: "100",
    ...env,
  });
  servers.push(server);
  await waitReady(server.url);
  return server;
}

/** A user's tab: sends `content` over Socket.IO, resolves with the stored message's id. */
async function userSays(server: TestServer, userId: string, content: string): Promise<string> {
  const socket = await connect(server.url, { userId });
  sockets.push(socket);
  return (await requestOk(socket, "message:add", { content })).message.id;
}

/** A tab of `userId`: what it received, in order, of the draft and message events. */
interface Tab {
  socket: TestSocket;
  events: ({ type: "draft"; update: DraftUpdate } | { type: "message"; message: Message } | { type: "discarded"; id: string })[];
  /** The draft updates it got for `id`. */
  updates(id: string): DraftUpdate[];
  /** Resolves once it got the message:new for `id`. */
  stored(id: string, timeoutMs?: number): Promise<void>;
}

async function openTab(server: TestServer, userId: string, token?: string): Promise<Tab> {
  const socket = await connect(server.url, token ? { token } : { userId });
  sockets.push(socket);
  const events: Tab["events"] = [];
  socket.on("draft:update", (update) => events.push({ type: "draft", update }));
  socket.on("draft:discarded", ({ id }) => events.push({ type: "discarded", id }));
  socket.on("message:new", (message) => events.push({ type: "message", message }));
  const updates = (id: string) => events.flatMap((event) => (event.type === "draft" && event.update.id === id ? [event.update] : []));
  const storedEvent = (id: string) => events.some((event) => event.type === "message" && event.message.id === id);
  return {
    socket,
    events,
    updates,
    stored: (id, timeoutMs = 15_000) => until(`the tab got message:new ${id}`, () => storedEvent(id), timeoutMs, 20),
  };
}

/**
 * What the tab saw of the reply `id`: draft updates with seq 1, 2, 3 … whose
 * chunks make `content`, then the message:new with that id and `content`,
 * and nothing of that id after it (the message replaced the draft).
 */
function expectStreamedThenStored(tab: Tab, id: string, content: string): void {
  const ofReply = tab.events.filter((event) =>
    event.type === "draft" ? event.update.id === id : event.type === "message" ? event.message.id === id : event.id === id,
  );
  const updates = tab.updates(id);
  expect(updates.length, "streamed in several chunks").toBeGreaterThan(2);
  expect(updates.map((update) => update.seq)).toEqual(updates.map((_, i) => i + 1));
  expect(updates.every((update) => update.role === "assistant")).toBe(true);
  expect(updates.map((update) => update.chunk).join("")).toBe(content);
  expect(ofReply.at(-1)).toEqual({ type: "message", message: expect.objectContaining({ id, role: "assistant", content }) });
  expect(ofReply.filter((event) => event.type === "message")).toHaveLength(1);
}

/** The live drafts of `userId`, through the HTTP API. */
async function liveDrafts(server: TestServer, userId: string): Promise<{ id: string; content: string; seq: number }[]> {
  const response = await fetch(`${server.url}/api/v1/users/${userId}/drafts`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await response.json()) as { drafts: { id: string; content: string; seq: number }[] }).drafts;
}

async function stored(userId: string): Promise<{ id: string; role: string; content: string; meta?: Record<string, unknown> }[]> {
  return (await reader.lrange(messagesKey("temp_memory", userId), 0, -1)).map((element) => JSON.parse(element));
}

const replyIdOf = (userId: string, messageId: string) => `reply-${createHash("sha1").update(`${userId}\n${messageId}`).digest("hex")}`;

async function pendingCount(stream: string): Promise<number> {
  return ((await reader.xpending(stream, "assistants")) as [number])[0];
}

describe.each(["python", "node"] as const)("examples/%s assistant", (language) => {
  const stream = `temp_memory:inbox-${language}`;
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithInbox(stream);
  });

  it("hears a user's message from the stream, streams its reply word by word to the user's tab, stores it once, then acknowledges it", async () => {
    const assistant = await startOnStream(language, stream, { REPLY_WORD_DELAY_MS: "20" });
    const userId = `assistant_${language}`;
    const tab = await openTab(server, userId);
    const id = await userSays(server, userId, "When is my report due?");
    await assistant.printed(new RegExp(`replied ${id} `));
    await tab.stored(replyIdOf(userId, id));
    expectStreamedThenStored(tab, replyIdOf(userId, id), "You wrote 5 words: When is my report due?");
    expect(tab.updates(replyIdOf(userId, id)).map((update) => update.chunk)).toEqual([
      "You",
      " wrote",
      " 5",
      " words:",
      " When",
      " is",
      " my",
      " report",
      " due?",
    ]);
    expect(await liveDrafts(server, userId)).toEqual([]);
    expect(await stored(userId)).toEqual([
      expect.objectContaining({ id, role: "user", content: "When is my report due?" }),
      expect.objectContaining({
        id: replyIdOf(userId, id),
        role: "assistant",
        content: "You wrote 5 words: When is my report due?",
        meta: { inReplyTo: id },
      }),
    ]);
    await until("the entry is acknowledged", async () => (await pendingCount(stream)) === 0, 5_000, 20);
  });

  it("honours RATE_LIMITED (Python: the draft route; Node: the socket's rate limit): waits as told and streams the whole reply in order", async () => {
    // The HTTP draft route has its own limit; the SDK's events count against the user's socket bucket.
    const limits: Record<string, string> =
      language === "python" ? { DRAFT_CHUNKS_PER_SECOND: "3" } : { RATE_LIMIT_PER_SECOND: "3", RATE_LIMIT_BURST: "3" };
    const limited = await serverWithInbox(stream, limits);
    const assistant = await startOnStream(language, stream, { REPLY_WORD_DELAY_MS: "0", INBOX_CONSUMER: "limited" });
    const userId = `assistant_limited_${language}`;
    const tab = await openTab(limited, userId);
    const started = Date.now();
    const id = await userSays(limited, userId, "one two three four five six");
    await assistant.printed(new RegExp(`replied ${id} `));
    await tab.stored(replyIdOf(userId, id));
    // 9 chunks through a bucket of 3 refilling 3 a second: at least 2 s of waiting, every chunk in.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expectStreamedThenStored(tab, replyIdOf(userId, id), "You wrote 6 words: one two three four five six");
    const metrics = await (await fetch(`${limited.url}/metrics`)).text();
    expect(metrics).toMatch(
      language === "python"
        ? /^scrollback_http_requests_total\{route="draftAppend",status="429"\} [1-9]/m
        : /^scrollback_events_total\{event="draft:append",outcome="RATE_LIMITED"\} [1-9]/m,
    );
    // It waited as told: never disconnected as a flooder.
    expect(metrics).toMatch(/^scrollback_rate_limit_disconnects_total 0$/m);
  });

  it("stores the reply whole, unstreamed, when the user already has MAX_DRAFTS_PER_USER live drafts", async () => {
    const crowded = await serverWithInbox(stream, { MAX_DRAFTS_PER_USER: "1" });
    const userId = `assistant_crowded_${language}`;
    const other = await fetch(`${crowded.url}/api/v1/users/${userId}/drafts/another-reply`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ chunk: "Thinking" }),
    });
    expect(other.status).toBe(200);
    const assistant = await startOnStream(language, stream, { INBOX_CONSUMER: "crowded" });
    const tab = await openTab(crowded, userId);
    const id = await userSays(crowded, userId, "Still there?");
    await assistant.printed(new RegExp(`replied ${id} `));
    await tab.stored(replyIdOf(userId, id));
    expect(tab.updates(replyIdOf(userId, id))).toEqual([]);
    expect((await stored(userId)).at(-1)).toMatchObject({ id: replyIdOf(userId, id), content: "You wrote 2 words: Still there?" });
    expect((await liveDrafts(crowded, userId)).map((draft) => draft.id)).toEqual(["another-reply"]);
  });
});

describe.each(["python", "node"] as const)("the %s assistant killed mid-stream", (language) => {
  const stream = `temp_memory:inbox-midstream-${language}`;
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithInbox(stream);
  });

  it("started again, continues the draft where it stopped and ends with exactly one stored reply, which replaces the tab's draft", async () => {
    const userId = `assistant_midstream_${language}`;
    const content = "Please tell me what the weather will be like tomorrow in Lisbon";
    const reply = "You wrote 12 words: Please tell me what the weather will be like tomorrow in Lisbon";
    const tab = await openTab(server, userId);
    const slow = await startOnStream(language, stream, { REPLY_WORD_DELAY_MS: "400" });
    const id = await userSays(server, userId, content);
    const replyId = replyIdOf(userId, id);
    await until("the tab saw 3 chunks", () => tab.updates(replyId).length >= 3, 15_000, 5);
    await slow.kill("SIGKILL");
    expect(await pendingCount(stream)).toBe(1); // read, never acknowledged
    expect((await stored(userId)).filter((message) => message.role === "assistant")).toEqual([]);
    const left = await liveDrafts(server, userId);
    expect(left).toEqual([expect.objectContaining({ id: replyId })]);
    expect(reply.startsWith(left[0]!.content)).toBe(true);
    expect(left[0]!.seq).toBeLessThan(16); // of 16 chunks

    // A new process takes the stale entry over and continues the draft left behind.
    const again = await startOnStream(language, stream, { CLAIM_IDLE_MS: "200", REPLY_WORD_DELAY_MS: "10" });
    await again.printed(new RegExp(`replied ${id} `));
    await tab.stored(replyId);
    expectStreamedThenStored(tab, replyId, reply);
    expect(
      tab.events.some((event) => event.type === "discarded"),
      "continued, not restarted",
    ).toBe(false);
    const replies = (await stored(userId)).filter((message) => message.role === "assistant");
    expect(replies).toEqual([expect.objectContaining({ id: replyId, content: reply })]);
    expect(await liveDrafts(server, userId)).toEqual([]);
    await until("the entry is acknowledged", async () => (await pendingCount(stream)) === 0, 5_000, 20);

    // A tab opened now loads the reply and no draft.
    const later = await connect(server.url, { userId });
    sockets.push(later);
    const loaded = await requestOk(later, "history:load");
    expect(loaded.messages.map((message) => message.id)).toEqual([id, replyId]);
    expect(loaded.drafts).toEqual([]);
  });
});

/**
 * An HTTP proxy to `target` that passes every request on and, for the draft
 * chunks numbered in `lost` (1-based), throws the server's answer away: a 502
 * gateway page in its place (`"502"`) or the connection cut (`"cut"`). The
 * chunk was applied all the same, as behind a real proxy that times out.
 */
async function lossyProxy(
  target: string,
  lost: Map<number, "502" | "cut">,
): Promise<{ server: Server; url: string; lostChunks(): number }> {
  let chunks = 0;
  let lostChunks = 0;
  const server = createServer((incoming, outgoing) => {
    const number = incoming.method === "POST" && /\/drafts\//.test(incoming.url ?? "") ? ++chunks : 0;
    const upstream = httpRequest(`${target}${incoming.url}`, { method: incoming.method, headers: incoming.headers }, (answer) => {
      const loss = lost.get(number);
      if (!loss) {
        outgoing.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(outgoing);
        return;
      }
      answer.resume();
      answer.on("end", () => {
        lostChunks++;
        if (loss === "cut") outgoing.socket?.destroy();
        else outgoing.writeHead(502, { "content-type": "text/html" }).end("<h1>502 Bad Gateway</h1>");
      });
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lostChunks: () => lostChunks };
}

describe("the python assistant whose chunk's answer is lost (applied, then 502 or a cut connection)", () => {
  const stream = "temp_memory:inbox-lost-answer";

  it("re-reads the draft and continues from the text it really has: no word twice, one stored reply", async () => {
    const server = await serverWithInbox(stream);
    const proxy = await lossyProxy(
      server.url,
      new Map([
        [3, "502"],
        [6, "cut"],
      ]),
    );
    try {
      const userId = "assistant_lost_answer";
      const tab = await openTab(server, userId);
      const assistant = await startOnStream("python", stream, { SCROLLBACK_URL: proxy.url, REPLY_WORD_DELAY_MS: "0" });
      const id = await userSays(server, userId, "one two three four five six");
      const replyId = replyIdOf(userId, id);
      await assistant.printed(new RegExp(`replied ${id} `));
      await tab.stored(replyId);
      expect(proxy.lostChunks()).toBe(2);
      // Every chunk once, in order: a resent chunk would have appended its word again.
      expectStreamedThenStored(tab, replyId, "You wrote 6 words: one two three four five six");
      expect((await stored(userId)).filter((message) => message.role === "assistant")).toEqual([
        expect.objectContaining({ id: replyId, content: "You wrote 6 words: one two three four five six" }),
      ]);
    } finally {
      await new Promise((resolve) => proxy.server.close(resolve));
    }
  });
});

describe.each(["python", "node"] as const)("the %s assistant killed mid-work", (language) => {
  const stream = `temp_memory:inbox-killed-${language}`;
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithInbox(stream);
  });

  it.each([
    ["after reading, before posting", "EXAMPLE_DELAY_MS", "read"],
    ["after posting, before acknowledging", "EXAMPLE_ACK_DELAY_MS", "posted"],
  ])("%s: started again, it ends with exactly one stored reply", async (_, pause, line) => {
    const userId = `assistant_killed_${language}_${line}`;
    const slow = await startOnStream(language, stream, { [pause]: "60000" });
    const id = await userSays(server, userId, "Are you there?");
    await slow.printed(new RegExp(`${line} ${id}`));
    await slow.kill("SIGKILL");
    expect(await pendingCount(stream)).toBe(1); // read, never acknowledged
    const repliesBefore = (await stored(userId)).filter((message) => message.role === "assistant");
    expect(repliesBefore).toHaveLength(line === "posted" ? 1 : 0);

    // A new process (another consumer name) takes the stale entry over with XAUTOCLAIM at start.
    const again = await startOnStream(language, stream, { CLAIM_IDLE_MS: "200" });
    await again.printed(new RegExp(`(already )?replied ${id} `));
    expect(again.output()).toContain(line === "posted" ? `already replied ${id}` : `replied ${id}`);
    const replies = (await stored(userId)).filter((message) => message.role === "assistant");
    expect(replies.map((reply) => reply.id)).toEqual([replyIdOf(userId, id)]);
    await until("the entry is acknowledged", async () => (await pendingCount(stream)) === 0, 5_000, 20);
  });
});

describe("the Node assistant with a server in JWT mode", () => {
  const stream = "temp_memory:inbox-jwt";
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithInbox(stream, { AUTH_JWT_SECRET: TEST_SECRET });
  });

  const connectionsOpen = async () =>
    Number(/^scrollback_connections (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);

  it("acts for the user with tokens it mints from AUTH_JWT_SECRET, and closes the user's connection once idle", async () => {
    const assistant = await startOnStream("node", stream, {
      AUTH_JWT_SECRET: TEST_SECRET,
      CONNECTION_IDLE_MS: "500",
      REPLY_WORD_DELAY_MS: "5",
      INBOX_CONSUMER: "jwt",
    });
    expect(assistant.output()).toContain("(minting tokens)");
    const userId = "assistant_jwt";
    const tab = await openTab(server, userId, await signToken(userId));
    const socket = await connect(server.url, { token: await signToken(userId) });
    sockets.push(socket);
    const id = (await requestOk(socket, "message:add", { content: "Signed and sealed" })).message.id;
    await assistant.printed(new RegExp(`replied ${id} `));
    await tab.stored(replyIdOf(userId, id));
    expectStreamedThenStored(tab, replyIdOf(userId, id), "You wrote 3 words: Signed and sealed");
    // The two tabs stay; the assistant's connection closes CONNECTION_IDLE_MS after its reply.
    await until("the assistant's connection closed", async () => (await connectionsOpen()) === 2, 5_000, 50);
  });

  it("with the wrong secret it is refused, and the entry stays unacknowledged", async () => {
    const assistant = await startOnStream("node", stream, {
      AUTH_JWT_SECRET: "another-secret-that-is-long-enough-for-hs256",
      INBOX_CONSUMER: "jwt-wrong",
    });
    const socket = await connect(server.url, { token: await signToken("assistant_jwt_wrong") });
    sockets.push(socket);
    await requestOk(socket, "message:add", { content: "Anyone?" });
    await assistant.printed(/UNAUTHORIZED/);
    expect(await pendingCount(stream)).toBe(1);
    expect((await stored("assistant_jwt_wrong")).filter((message) => message.role === "assistant")).toEqual([]);
  });
});

describe("several assistants, Python and Node, in one group", () => {
  it("share the messages, and each message gets exactly one reply", async () => {
    const stream = "temp_memory:inbox-shared";
    const server = await serverWithInbox(stream);
    const assistants = [
      await startOnStream("python", stream, { INBOX_CONSUMER: "py-1", REPLY_WORD_DELAY_MS: "5" }),
      await startOnStream("python", stream, { INBOX_CONSUMER: "py-2", REPLY_WORD_DELAY_MS: "5" }),
      await startOnStream("node", stream, { INBOX_CONSUMER: "node-1", REPLY_WORD_DELAY_MS: "5" }),
    ];
    const users = Array.from({ length: 5 }, (_, i) => `assistant_shared_${i}`);
    const asked = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => ({ userId: users[i % 5]!, id: await userSays(server, users[i % 5]!, `question ${i}`) })),
    );
    await until(
      "every question has a reply",
      async () => (await Promise.all(users.map(stored))).flat().filter((message) => message.role === "assistant").length >= asked.length,
      30_000,
    );
    const replies = (await Promise.all(users.map(stored))).flat().filter((message) => message.role === "assistant");
    expect(replies.map((reply) => reply.id).sort()).toEqual(asked.map(({ userId, id }) => replyIdOf(userId, id)).sort());
    for (const assistant of assistants) expect(assistant.output(), "each assistant took a share").toMatch(/replied /);
    await until("every entry is acknowledged", async () => (await pendingCount(stream)) === 0, 5_000, 20);
  });
});
