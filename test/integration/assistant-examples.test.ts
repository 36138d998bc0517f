/**
 * The README's assistants (examples/python/assistant.py with Debian's
 * python3-redis, examples/node/assistant.mjs with ioredis) as real processes
 * against a real server and a real Redis: a user writes over Socket.IO, the
 * assistant hears it from the inbox stream (PROTOCOL.md §8) and its reply is
 * stored exactly once, also when an assistant is SIGKILLed mid-work and
 * another takes over, and several assistants share the messages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { connect, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TOKEN = "assistant-examples-token";
/** Debian's python3, which has python3-redis (the pyenv python3 on PATH may not). */
const PYTHON = "/usr/bin/python3";

let redis: RedisServer;
let reader: Redis;
const servers: TestServer[] = [];
const sockets: TestSocket[] = [];
const running = new Set<Assistant>();

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

interface Assistant {
  process: ChildProcess;
  /** Everything it printed. */
  output(): string;
  /** Resolves once it printed a line matching `pattern`. */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts an example assistant as the README says, on `stream`, and waits until it listens. */
async function startAssistant(language: "python" | "node", stream: string, env: Record<string, string> = {}): Promise<Assistant> {
  const [command, file] =
    language === "python" ? [PYTHON, "examples/python/assistant.py"] : [process.execPath, "examples/node/assistant.mjs"];
  const child = spawn(command, [file], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      SCROLLBACK_URL: servers.at(-1)!.url,
      SERVICE_TOKEN: TOKEN,
      // As an operator would run it: a Redis user of its own that may only read the inbox (dev/redis-acl.ts).
      REDIS_URL: redis.assistantUrl,
      INBOX_STREAM: stream,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const assistant: Assistant = {
    process: child,
    output: () => output,
    printed: (pattern, timeoutMs = 15_000) =>
      until(`${file} printed ${pattern}; it printed:\n${output}`, () => pattern.test(output), timeoutMs, 20),
    kill: async (signal) => {
      running.delete(assistant);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  running.add(assistant);
  await assistant.printed(/listening on/);
  return assistant;
}

async function serverWithInbox(stream: string): Promise<TestServer> {
  const server = await startServer({
    STORE: "redis",
    REDIS_URL: redis.url,
    SERVICE_TOKEN: TOKEN,
    INBOX_STREAM: stream,
    HISTORY_MAX: "100",
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

  it("hears a user's message from the stream and stores exactly one reply, then acknowledges it", async () => {
    const assistant = await startAssistant(language, stream);
    const userId = `assistant_${language}`;
    const id = await userSays(server, userId, "When is my report due?");
    await assistant.printed(new RegExp(`replied ${id} `));
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
});

describe("the Python assistant killed mid-work", () => {
  const stream = "temp_memory:inbox-killed";
  let server: TestServer;
  beforeAll(async () => {
    server = await serverWithInbox(stream);
  });

  it.each([
    ["after reading, before posting", "EXAMPLE_DELAY_MS", "read"],
    ["after posting, before acknowledging", "EXAMPLE_ACK_DELAY_MS", "posted"],
  ])("%s: started again, it ends with exactly one stored reply", async (_, pause, line) => {
    const userId = `assistant_killed_${line}`;
    const slow = await startAssistant("python", stream, { [pause]: "60000" });
    const id = await userSays(server, userId, "Are you there?");
    await slow.printed(new RegExp(`${line} ${id}`));
    await slow.kill("SIGKILL");
    expect(await pendingCount(stream)).toBe(1); // read, never acknowledged
    const repliesBefore = (await stored(userId)).filter((message) => message.role === "assistant");
    expect(repliesBefore).toHaveLength(line === "posted" ? 1 : 0);

    // A new process (another consumer name) takes the stale entry over with XAUTOCLAIM at start.
    const again = await startAssistant("python", stream, { CLAIM_IDLE_MS: "200" });
    await again.printed(new RegExp(`(already )?replied ${id} `));
    expect(again.output()).toContain(line === "posted" ? `already replied ${id}` : `replied ${id}`);
    const replies = (await stored(userId)).filter((message) => message.role === "assistant");
    expect(replies.map((reply) => reply.id)).toEqual([replyIdOf(userId, id)]);
    await until("the entry is acknowledged", async () => (await pendingCount(stream)) === 0, 5_000, 20);
  });
});

describe("several assistants, Python and Node, in one group", () => {
  it("share the messages, and each message gets exactly one reply", async () => {
    const stream = "temp_memory:inbox-shared";
    const server = await serverWithInbox(stream);
    const assistants = [
      await startAssistant("python", stream, { INBOX_CONSUMER: "py-1" }),
      await startAssistant("python", stream, { INBOX_CONSUMER: "py-2" }),
      await startAssistant("node", stream, { INBOX_CONSUMER: "node-1" }),
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
