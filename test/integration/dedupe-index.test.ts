/**
 * The id index beside each list (appendMessage.lua, PROTOCOL.md §2), seen
 * from Redis: where it lives, that it expires and is cleared with the list,
 * that an add's duplicate check reads no window in the steady state, and that
 * it recovers when another program moves elements behind its back.
 */
import calculateSlot from "cluster-key-slot";
import { describe, expect, it } from "vitest";
import { messageIdsKey, messagesKey } from "../../server/src/store/redis-keys.js";
import { RedisStore } from "../../server/src/store/redis-store.js";
import { freshUser, newMessage } from "../contract/store-contract.js";
import { useSuiteRedis } from "../support/suite-redis.js";

const PREFIX = "temp_memory";
const redis = useSuiteRedis();

function openStore(historyMax: number, historyTtlSeconds = 86_400): RedisStore {
  return new RedisStore({ client: redis.server.client(), keyPrefix: PREFIX, historyMax, historyTtlSeconds });
}

/** How many times Redis has run `command` (scripts' calls included), from INFO commandstats. */
async function calls(command: string): Promise<number> {
  const stats = await redis.admin.info("commandstats");
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(stats)?.[1] ?? 0);
}

describe("the id index", () => {
  it("sits in the list's Cluster slot, out of `KEYS temp_memory:*`, with the list's TTL and one field per kept id", async () => {
    const store = openStore(5);
    const user = freshUser();
    for (let i = 0; i < 8; i++) await store.append(user, newMessage(`m${i}`, { id: `id-${i}` }));
    const index = messageIdsKey(PREFIX, user);
    expect(index).toBe(`{${PREFIX}:${user}:messages}:ids`);
    expect(calculateSlot(index)).toBe(calculateSlot(messagesKey(PREFIX, user)));
    expect(await redis.admin.keys(`${PREFIX}:*`)).toEqual([messagesKey(PREFIX, user)]);
    const fields = await redis.admin.hkeys(index);
    expect(fields.filter((field) => !field.startsWith(".")).sort()).toEqual(["id-3", "id-4", "id-5", "id-6", "id-7"]);
    expect(Math.abs((await redis.admin.ttl(index)) - (await redis.admin.ttl(messagesKey(PREFIX, user))))).toBeLessThanOrEqual(1);
    await store.clear(user);
    expect(await redis.admin.exists(index, messagesKey(PREFIX, user))).toBe(0);
  });

  it("checks a duplicate without reading the window: no LRANGE per add, whatever HISTORY_MAX", async () => {
    const store = openStore(1_000);
    const user = freshUser();
    for (let i = 0; i < 1_100; i++) await store.append(user, newMessage(`m${i}`, { id: `id-${i}` }));
    const before = await calls("lrange");
    for (let i = 1_100; i < 1_300; i++) await store.append(user, newMessage(`m${i}`, { id: `id-${i}` }));
    expect((await store.append(user, newMessage("retry", { id: "id-400" }))).duplicate).toBe(true);
    expect(await calls("lrange")).toBe(before);
  });

  it("finds a kept id again after another program pops and pushes the same bytes (same length, same last element)", async () => {
    const store = openStore(5);
    const user = freshUser();
    const key = messagesKey(PREFIX, user);
    for (const id of ["a", "b", "c", "d", "e"]) await store.append(user, newMessage(id, { id }));
    // Every position moves by one while LLEN and the last element stay what the index recorded.
    const last = await redis.admin.lindex(key, -1);
    await redis.admin.lpop(key);
    await redis.admin.rpush(key, last!);
    expect((await store.append(user, newMessage("retry", { id: "c" }))).message.content).toBe("c");
    expect((await store.append(user, newMessage("retry", { id: "b" }))).message.content).toBe("b");
    expect((await store.append(user, newMessage("a again", { id: "a" }))).duplicate).toBe(false);
  });

  it("misses an id another program wrote in place (LSET, or LINSERT with an LPOP) until a check finds an element moved, as PROTOCOL.md §2 says", async () => {
    const store = openStore(5);
    const user = freshUser();
    const key = messagesKey(PREFIX, user);
    for (const id of ["a", "b", "c", "d", "e"]) await store.append(user, newMessage(id, { id }));
    // Same length, same last element: nothing tells the index.
    await redis.admin.lset(key, 2, JSON.stringify({ id: "in-place", role: "user", content: "replaced c" }));
    expect((await store.append(user, newMessage("missed", { id: "in-place" }))).duplicate).toBe(false);
    // Checking "c" finds another element at its position: the index is rebuilt, "c" is rightly gone...
    expect((await store.append(user, newMessage("c again", { id: "c" }))).duplicate).toBe(false);
    // ...and from then on the id written in place is found.
    expect((await store.append(user, newMessage("retry", { id: "in-place" }))).duplicate).toBe(true);
    expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["in-place", "d", "e", "in-place", "c"]);

    const other = freshUser();
    const otherKey = messagesKey(PREFIX, other);
    for (const id of ["a", "b", "c", "d", "e"]) await store.append(other, newMessage(id, { id }));
    await redis.admin.linsert(
      otherKey,
      "BEFORE",
      (await redis.admin.lindex(otherKey, 2))!,
      JSON.stringify({ id: "inserted", content: "x" }),
    );
    await redis.admin.lpop(otherKey);
    expect((await store.append(other, newMessage("missed", { id: "inserted" }))).duplicate).toBe(false);
    expect((await store.load(other)).messages.map((m) => m.id)).toEqual(["inserted", "c", "d", "e", "inserted"]);
  });

  it("never indexes an element nested deeper than cjson's 1000 levels, which readers serve: an add of its id is stored again", async () => {
    const store = openStore(5);
    const user = freshUser();
    const key = messagesKey(PREFIX, user);
    const deep = `{"id":"deep-1","role":"user","content":"deep","extra":${"[".repeat(1_100)}${"]".repeat(1_100)}}`;
    await redis.admin.rpush(key, deep);
    expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["deep-1"]);
    const again = await store.append(user, newMessage("deep again", { id: "deep-1" }));
    expect(again.duplicate).toBe(false);
    expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["deep-1", "deep-1"]);
  });

  it("starts over when the list expires before its index (another program shortened the list's TTL)", async () => {
    const store = openStore(5);
    const user = freshUser();
    await store.append(user, newMessage("old", { id: "gone" }));
    await redis.admin.pexpire(messagesKey(PREFIX, user), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await store.append(user, newMessage("new", { id: "gone" }))).duplicate).toBe(false);
    expect((await store.load(user)).messages.map((m) => m.content)).toEqual(["new"]);
  });

  it("indexes lists written before it existed (an upgrade) on their first add", async () => {
    const store = openStore(5);
    const user = freshUser();
    const key = messagesKey(PREFIX, user);
    await redis.admin.rpush(key, JSON.stringify({ id: "before-upgrade", role: "user", content: "hi" }), '{"content": "no id"}');
    expect((await store.append(user, newMessage("retry", { id: "before-upgrade" }))).duplicate).toBe(true);
    const [derived] = (await store.load(user)).messages.filter((m) => m.content === "no id");
    expect((await store.append(user, newMessage("retry", { id: derived!.id }))).duplicate).toBe(true);
    expect(await redis.admin.llen(key)).toBe(2);
  });

  it("reads an index field another program wrote with a non-number (or non-integer, or far) sequence as stale: the add is answered from the list, never an error", async () => {
    const store = openStore(5);
    for (const garbage of ["garbage", "1.5", "1e20", "-3", "inf", "nan"]) {
      const user = freshUser();
      const index = messageIdsKey(PREFIX, user);
      for (const id of ["m1", "m2"]) await store.append(user, newMessage(id, { id }));
      // A kept id: still a duplicate, answered with its element.
      await redis.admin.hset(index, "m2", garbage);
      const kept = await store.append(user, newMessage("retry", { id: "m2" }));
      expect(kept.duplicate).toBe(true);
      expect(kept.message.content).toBe("m2");
      // An id not kept: stored.
      await redis.admin.hset(index, "m9", garbage);
      expect((await store.append(user, newMessage("m9", { id: "m9" }))).duplicate).toBe(false);
      expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["m1", "m2", "m9"]);
    }
  });
});
