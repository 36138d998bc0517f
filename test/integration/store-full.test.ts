/**
 * A Redis out of memory (PROTOCOL.md §4 STORE_FULL, §5): a real redis-server
 * with a small `maxmemory` under `noeviction`, filled by someone else's keys.
 * An add over Socket.IO or HTTP answers STORE_FULL (HTTP 507), stores and
 * announces nothing, and the replicas stay up, serving reads, duplicates and
 * clears; `/readyz` and `scrollback_store_full` say the store is full on
 * the replicas that were refused, and stop saying so once Redis has room again.
 * Under `volatile-ttl` instead, adds keep being accepted and the histories
 * written longest ago are evicted first.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, nextEvent, request, requestOk, type TestSocket } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

const TOKEN = "store-full-token";
const KEY = "temp_memory:full_alice:messages";

let redis: RedisServer;
let replicas: TestServer[];
let writer: TestSocket;
let reader: TestSocket;
let fillers = 0;
let carolTabs: TestSocket[] = [];

const readyz = async (replica: TestServer) => {
  const answer = await fetch(`${replica.url}/readyz`);
  return { status: answer.status, body: (await answer.json()) as { store: string; full?: boolean } };
};
const fullGauge = async (replica: TestServer) =>
  /^scrollback_store_full (\d)$/m.exec(await (await fetch(`${replica.url}/metrics`)).text())?.[1];

beforeAll(async () => {
  redis = await startRedis({ args: ["--maxmemory-policy", "noeviction"] });
  replicas = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: TOKEN });
  writer = await connect(replicas[0]!.url, { userId: "full_alice" });
  reader = await connect(replicas[1]!.url, { userId: "full_alice" });
  await requestOk(writer, "message:add", { id: "before-1", content: "stored before Redis filled up" });
  // Carol's kept message, then another program's RPUSH: her id index no longer matches her list.
  // Her tabs stay open until the end: a tab closing while Redis is full would unsubscribe its room
  // and free the bytes an add needs.
  carolTabs = await Promise.all(replicas.map((replica) => connect(replica.url, { userId: "full_carol" })));
  await requestOk(carolTabs[0]!, "message:add", { id: "carol-1", content: "kept before Redis filled up" });
  await redis.client().rpush("temp_memory:full_carol:messages", JSON.stringify({ id: "py-1", role: "user", content: "from python" }));
  // Another program's keys (3 MiB), then a maxmemory 1 MiB below what Redis uses. Filling up to the limit
  // and stopping at the first OOM left Redis only a few bytes over it: once Redis shrank a client's buffers,
  // it was under the limit again and an add was stored (a CI run). A megabyte over, it stays full until
  // the fillers are deleted.
  const admin = redis.client();
  for (; fillers < 48; fillers++) await admin.set(`other_app:filler:${fillers}`, "x".repeat(64 * 1024));
  const used = Number(/^used_memory:(\d+)/m.exec(await admin.info("memory"))?.[1]);
  await admin.config("SET", "maxmemory", String(used - 1024 * 1024));
  await expect(admin.set("other_app:probe", "x")).rejects.toThrow(/^OOM/);
});

afterAll(async () => {
  for (const tab of carolTabs) tab.close();
  writer?.close();
  reader?.close();
  await Promise.all((replicas ?? []).map((replica) => replica.close()));
  await redis?.stop();
});

describe("Redis at maxmemory under noeviction", () => {
  it("refuses an add with STORE_FULL, not retryable, storing and announcing nothing", async () => {
    const answer = await request(writer, "message:add", { id: "full-1", content: "no room" });
    expect(answer).toMatchObject({ ok: false, error: { code: "STORE_FULL" } });
    if (!answer.ok) expect(answer.error.message).toMatch(/out of memory: nothing was stored/);
    expect(await redis.client().lrange(KEY, 0, -1)).toHaveLength(1);
  });

  it("answers HTTP 507 STORE_FULL to an add over the API", async () => {
    const answer = await fetch(`${replicas[1]!.url}/api/v1/users/full_alice/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ role: "assistant", content: "no room either", id: "full-2" }),
    });
    expect(answer.status).toBe(507);
    expect(await answer.json()).toEqual({ error: { code: "STORE_FULL", message: expect.stringMatching(/out of memory/) } });
    expect(await redis.client().lrange(KEY, 0, -1)).toHaveLength(1);
  });

  it("answers a resend of a kept message as a duplicate even when its index must be rebuilt first (which a full Redis refuses)", async () => {
    const answer = await request(carolTabs[1]!, "message:add", { id: "carol-1", content: "resent" });
    expect(answer).toMatchObject({ ok: true, duplicate: true, message: { content: "kept before Redis filled up" } });
  });

  it("stays up: loads, searches, and answers a duplicate of a stored add", async () => {
    expect((await requestOk(reader, "history:load", {})).messages.map((message) => message.id)).toEqual(["before-1"]);
    expect((await requestOk(reader, "history:search", { query: "before" })).messages).toHaveLength(1);
    expect(await requestOk(writer, "message:add", { id: "before-1", content: "stored before Redis filled up" })).toMatchObject({
      duplicate: true,
    });
  });

  it("says so: /readyz 200 with full: true, and scrollback_store_full 1 (each replica had an add refused)", async () => {
    for (const replica of replicas) {
      expect(await readyz(replica)).toEqual({ status: 200, body: { store: "redis", full: true } });
      expect(await fullGauge(replica)).toBe("1");
    }
  });

  it("takes adds again once Redis has room, and stops saying it is full", async () => {
    const admin = redis.client();
    for (let i = 0; i < fillers; i++) await admin.del(`other_app:filler:${i}`);
    // The first thing the other tab hears is the add made after Redis had room: the refused ones were never announced.
    const heard = nextEvent(reader, "message:new");
    expect(await requestOk(writer, "message:add", { id: "after-1", content: "room again" })).toMatchObject({ duplicate: false });
    expect((await heard).id).toBe("after-1");
    expect((await redis.client().lrange(KEY, 0, -1)).map((element) => JSON.parse(element).id)).toEqual(["before-1", "after-1"]);
    for (const replica of replicas) {
      await until("/readyz no longer says full", async () => (await readyz(replica)).body.full === undefined, 5_000);
      expect(await fullGauge(replica)).toBe("0");
    }
  });
});

describe("Redis at maxmemory under volatile-ttl", () => {
  it("keeps accepting adds and evicts the histories written longest ago first", async () => {
    const lru = await startRedis({ args: ["--maxmemory", "4mb", "--maxmemory-policy", "volatile-ttl"] });
    const [server] = await startReplicas(1, { STORE: "redis", REDIS_URL: lru.url, SERVICE_TOKEN: TOKEN });
    try {
      // Its data connection may still be connecting (no offline queue: an add would answer UNAVAILABLE).
      await until("the replica is ready", async () => (await fetch(`${server!.url}/readyz`)).status === 200, 10_000);
      const users = 300;
      const content = "y".repeat(16_000);
      const refused: number[] = [];
      for (let i = 0; i < users; i++) {
        // One user after another, so their TTLs (restarted by each add) end in that order.
        const answer = await fetch(`${server!.url}/api/v1/users/ttl_user_${i}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ role: "assistant", content }),
        });
        if (answer.status !== 201) refused.push(answer.status);
      }
      expect(refused).toEqual([]);
      const admin = lru.client();
      const kept = await Promise.all(Array.from({ length: users }, (_, i) => admin.exists(`temp_memory:ttl_user_${i}:messages`)));
      const evicted = kept.flatMap((exists, i) => (exists ? [] : [i]));
      expect(evicted.length).toBeGreaterThan(0);
      // Redis samples keys, so the order is approximate: the evicted were written earlier on the whole, the newest are all kept.
      const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
      const keptIndexes = kept.flatMap((exists, i) => (exists ? [i] : []));
      expect(mean(evicted)).toBeLessThan(mean(keptIndexes));
      expect(kept.slice(-30)).toEqual(Array(30).fill(1));
      expect((await fetch(`${server!.url}/readyz`)).status).toBe(200);
    } finally {
      await server?.close();
      await lru.stop();
    }
  });
});
