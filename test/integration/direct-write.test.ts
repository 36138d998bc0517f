/**
 * The `scrollback` Redis Function (PROTOCOL.md §9) on one real Redis: a real
 * python3 process running examples/python/direct_write.py writes straight
 * into Redis, and gets the server's add: an open tab hears it, a retry is a
 * duplicate, the window is trimmed, the keys have the TTL, the inbox has it.
 * And the server loads the function again when Redis lost it.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PYTHON } from "../../dev/example-assistants.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { SOCKET_ID_LENGTH, userRoom } from "../../server/src/realtime/rooms.js";
import { draftsKey, messageIdsKey, messagesKey } from "../../server/src/store/redis-keys.js";
import { collect, connect, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const STREAM = "temp_memory:inbox-direct";
const PREFIX = "temp_memory";
const TTL_SECONDS = 600;

let redis: RedisServer;
let admin: Redis;
let server: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = redis.client();
  server = await startServer({
    STORE: "redis",
    REDIS_URL: redis.url,
    HISTORY_MAX: "3",
    HISTORY_TTL_SECONDS: String(TTL_SECONDS),
    INBOX_STREAM: STREAM,
  });
  await waitReady(server.url);
  await until("the server loaded the function", () => libraryLoaded(), 10_000, 20);
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await server?.close();
  await redis?.stop();
});

async function libraryLoaded(): Promise<boolean> {
  return ((await admin.call("FUNCTION", "LIST", "LIBRARYNAME", "scrollback")) as unknown[]).length === 1;
}

/** Runs the example as its docstring says: [its exit code, what it printed]. */
async function directWrite(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PYTHON, ["examples/python/direct_write.py", ...args], {
      cwd: ROOT,
      // As an operator would run it: a Redis user of its own (dev/redis-acl.ts directWriterAclRule).
      env: { PATH: process.env.PATH, REDIS_URL: redis.writerUrl, KEY_PREFIX: PREFIX },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function inboxIds(): Promise<string[]> {
  return (await admin.xrange(STREAM, "-", "+")).map(([, fields]) => fields[fields.indexOf("id") + 1] as string);
}

describe("FCALL scrollback_add from examples/python/direct_write.py", () => {
  it("reaches an open tab, is deduped on retry, trimmed to HISTORY_MAX, TTL'd and in the inbox", async () => {
    const user = "direct_python";
    const tab = await connect(server.url, { userId: user });
    sockets.push(tab);
    const heard = collect(tab, "message:new");

    const first = await directWrite(user, "py-1", "hello from python / over Redis");
    expect(first.code, first.stderr).toBe(0);
    const [outcome, stored] = first.stdout.trim().split("\n");
    expect(outcome).toBe("stored");
    await until("the tab heard it", () => heard.length === 1, 5_000, 20);
    const message = heard[0]!;
    expect(message).toEqual({
      id: "py-1",
      role: "user",
      content: "hello from python / over Redis",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      userId: user,
    });
    expect(Math.abs(Date.parse(message.timestamp as string) - Date.now())).toBeLessThan(60_000);
    expect(stored).toBe(JSON.stringify(message));
    // Served by the server exactly as it serves its own adds.
    expect((await requestOk(tab, "history:load", {})).messages).toEqual([message]);

    const retry = await directWrite(user, "py-1", "hello from python / over Redis");
    expect(retry.stdout.split("\n")[0]).toBe("duplicate");
    for (const id of ["py-2", "py-3", "py-4"]) expect((await directWrite(user, id, `message ${id}`)).code).toBe(0);
    expect((await directWrite(user, "py-5", "an assistant's", "assistant")).code).toBe(0);
    await until("the tab heard every stored one", () => heard.length === 5, 5_000, 20);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heard.map((event) => event.id)).toEqual(["py-1", "py-2", "py-3", "py-4", "py-5"]);

    const key = messagesKey(PREFIX, user);
    expect((await admin.lrange(key, 0, -1)).map((raw) => JSON.parse(raw).id)).toEqual(["py-3", "py-4", "py-5"]);
    for (const ttlOf of [key, messageIdsKey(PREFIX, user)]) {
      const ttl = await admin.ttl(ttlOf);
      expect(ttl).toBeGreaterThan(TTL_SECONDS - 10);
      expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
    }
    // The user's messages (INBOX_ROLES=user), once each, as the server writes its own entries.
    expect(await inboxIds()).toEqual(["py-1", "py-2", "py-3", "py-4"]);
    const [, fields] = (await admin.xrange(STREAM, "-", "+"))[0]!;
    expect(fields).toEqual(["userId", user, "id", "py-1", "message", JSON.stringify(message)]);
  });

  it("refuses what the server's add would refuse, writing nothing", async () => {
    const user = "direct_refused";
    const key = messagesKey(PREFIX, user);
    const call = (keys: string[], message: string) => admin.call("FCALL", "scrollback_add", keys.length, ...keys, message);
    const keys = [key, messageIdsKey(PREFIX, user), draftsKey(PREFIX, user)];
    const refusals: [string[], string, RegExp][] = [
      [keys, '{"id":"bad id","content":"x"}', /^SCROLLBACK_INVALID id:/],
      [keys, '{"id":"ok-1","content":""}', /^SCROLLBACK_INVALID content:/],
      [keys, JSON.stringify({ id: "ok-1", content: "x".repeat(16_385) }), /^SCROLLBACK_INVALID content:/],
      [keys, '{"id":"ok-1","content":"x","role":"bot"}', /^SCROLLBACK_INVALID role:/],
      [keys, '{"id":"ok-1","content":"x","meta":{"a":1}}', /^SCROLLBACK_INVALID meta/],
      [keys, "not json", /^SCROLLBACK_INVALID the message/],
      [[key, "{other}:ids", draftsKey(PREFIX, user)], '{"id":"ok-1","content":"x"}', /^SCROLLBACK_INVALID the ids and drafts keys/],
      [
        ["other_prefix:u:messages", "{other_prefix:u:messages}:ids", "{other_prefix:u:messages}:drafts"],
        '{"id":"ok-1","content":"x"}',
        /^SCROLLBACK_INVALID the list key/,
      ],
      [keys.slice(0, 2), '{"id":"ok-1","content":"x"}', /^SCROLLBACK_INVALID takes 3 keys/],
    ];
    for (const [given, message, refusal] of refusals) await expect(call(given, message), message).rejects.toThrow(refusal);
    expect(await admin.exists(key, messageIdsKey(PREFIX, user), "other_prefix:u:messages")).toBe(0);
  });

  it("is loaded again when Redis lost it, as soon as the server reconnects", async () => {
    await admin.call("FUNCTION", "DELETE", "scrollback");
    expect(await libraryLoaded()).toBe(false);
    await admin.client("KILL", "TYPE", "normal");
    await until("the server loaded it again", () => libraryLoaded(), 10_000, 50);
    expect((await directWrite("direct_reloaded", "again-1", "after a reload")).stdout.split("\n")[0]).toBe("stored");
  });
});

/**
 * The adapter tells a socket id from a room by JavaScript's String.length
 * (UTF-16 code units), so the `~` the server's room gets (rooms.ts) depends
 * on that count; the function must count the same way, not in UTF-8 bytes,
 * or it publishes on a channel no replica listens to. KEY_PREFIX may be any
 * non-blank text without braces; user ids are ASCII.
 */
describe.each([
  // 2 bytes, 1 code unit: "ab" makes a 20-unit room (21 bytes), "a" a 20-byte one (19 units).
  { prefix: "é", users: ["ab", "a"] },
  // 4 bytes, 2 code units (a surrogate pair): "a" makes a 20-unit room of 22 bytes.
  { prefix: "😀", users: ["a"] },
])("FCALL scrollback_add under the non-ASCII KEY_PREFIX $prefix", ({ prefix, users }) => {
  let prefixRedis: RedisServer;
  let prefixServer: TestServer;
  const tabs: TestSocket[] = [];

  beforeAll(async () => {
    // The test ACL rules grant temp_memory:* only.
    prefixRedis = await startRedis({ acl: false });
    prefixServer = await startServer({ STORE: "redis", REDIS_URL: prefixRedis.url, KEY_PREFIX: prefix });
    await waitReady(prefixServer.url);
    const client = prefixRedis.client();
    const loaded = async () => ((await client.call("FUNCTION", "LIST")) as unknown[]).length === 1;
    await until("the server loaded the function", loaded, 10_000, 20);
  });
  afterAll(async () => {
    for (const tab of tabs) tab.close();
    await prefixServer?.close();
    await prefixRedis?.stop();
  });

  it("reaches the user's open tab whether or not the room needs its `~`", async () => {
    // The cases are the ones where bytes and code units disagree about the `~`.
    const tilde = users.map((user) => userRoom(prefix, user).endsWith("~"));
    expect(tilde).toContain(true);
    for (const user of users) {
      const room = `user:{${messagesKey(prefix, user)}}`;
      expect(room.length === SOCKET_ID_LENGTH).not.toBe(Buffer.byteLength(room) === SOCKET_ID_LENGTH);
    }
    const client = prefixRedis.client();
    for (const user of users) {
      const tab = await connect(prefixServer.url, { userId: user });
      tabs.push(tab);
      const heard = collect(tab, "message:new");
      const keys = [messagesKey(prefix, user), messageIdsKey(prefix, user), draftsKey(prefix, user)];
      const reply = (await client.call("FCALL", "scrollback_add", 3, ...keys, '{"id":"wide-1","content":"hi"}')) as string[];
      expect(reply[0]).toBe("stored");
      await until(`${user}'s tab heard it`, () => heard.length === 1, 5_000, 20);
      expect(heard[0]).toMatchObject({ id: "wide-1", content: "hi", userId: user });
    }
  });
});
