/**
 * A script missing on the node is sent again, transparently (PROTOCOL.md §2):
 * writers add without pause on two replicas while `SCRIPT FLUSH` empties
 * Redis's script cache over and over, as a restart without persistence or a
 * failover to a node that never ran the scripts would. No add is refused,
 * every acked add is stored exactly once, and a retried add is a duplicate.
 * With REDIS_WAIT_REPLICAS the script and its WAIT stay in one pipeline, so
 * an add acked as replicated is on the replica.
 */
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { startRedis } from "../../dev/redis-server.js";
import { connect, request, type TestSocket } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

const WRITERS = 8;
const RUN_MS = 3_000;
/** Below HISTORY_MAX (1000), so every acked add is still in the list to count. */
const MAX_ADDS_PER_WRITER = 900;
/** Every this many adds, the writer sends the last one again (a retry). */
const RETRY_EVERY = 10;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Outcome {
  acked: Map<string, string[]>;
  refused: string[];
  retriesNotDuplicate: number;
  flushes: number;
}

async function writeWhileFlushing(servers: TestServer[], admin: Redis, prefix: string): Promise<Outcome> {
  const sockets: TestSocket[] = [];
  cleanups.push(async () => {
    for (const socket of sockets) socket.close();
  });
  for (let i = 0; i < WRITERS; i++) sockets.push(await connect(servers[i % servers.length]!.url, { userId: `${prefix}_${i}` }));
  const outcome: Outcome = { acked: new Map(), refused: [], retriesNotDuplicate: 0, flushes: 0 };
  const deadline = Date.now() + RUN_MS;

  const flusher = (async () => {
    while (Date.now() < deadline) {
      await admin.call("SCRIPT", "FLUSH");
      outcome.flushes++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const writers = sockets.map(async (socket, i) => {
    const ids: string[] = [];
    outcome.acked.set(`${prefix}_${i}`, ids);
    for (let n = 0; n < MAX_ADDS_PER_WRITER && Date.now() < deadline; n++) {
      const id = `w${i}-${n}`;
      const ack = await request(socket, "message:add", { id, content: `add ${n}` });
      if (!ack.ok) outcome.refused.push(`${id}: ${ack.error.code} ${ack.error.message}`);
      else ids.push(id);
      if (n % RETRY_EVERY === RETRY_EVERY - 1) {
        const retry = await request(socket, "message:add", { id, content: `add ${n}` });
        if (!retry.ok) outcome.refused.push(`${id} (retry): ${retry.error.code} ${retry.error.message}`);
        else if (!retry.duplicate) outcome.retriesNotDuplicate++;
      }
    }
  });
  await Promise.all([flusher, ...writers]);
  return outcome;
}

async function storedIds(client: Redis, userId: string): Promise<string[]> {
  const elements = await client.lrange(`temp_memory:${userId}:messages`, 0, -1);
  return elements.map((element) => (JSON.parse(element) as { id: string }).id);
}

async function expectStoredExactlyOnce(client: Redis, outcome: Outcome): Promise<number> {
  let total = 0;
  for (const [userId, ids] of outcome.acked) {
    expect({ userId, stored: await storedIds(client, userId) }).toEqual({ userId, stored: ids });
    total += ids.length;
  }
  return total;
}

describe("SCRIPT FLUSH, again and again, under continuous adds", () => {
  it("refuses no add and stores each exactly once", async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const servers = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url, HISTORY_MAX: "1000" });
    cleanups.push(async () => void (await Promise.all(servers.map((server) => server.close()))));

    const outcome = await writeWhileFlushing(servers, redis.client(), "flush");
    expect(outcome.refused).toEqual([]);
    expect(outcome.retriesNotDuplicate).toBe(0);
    expect(outcome.flushes).toBeGreaterThan(50);
    const total = await expectStoredExactlyOnce(redis.client(), outcome);
    expect(total).toBeGreaterThan(WRITERS * 20);
    // Redis really did lose the scripts under the writers: with them cached, no NOSCRIPT, nothing to prove.
    const stats = await redis.client().info("commandstats");
    expect(stats).toMatch(/cmdstat_eval:calls=\d+/);
    expect(Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1])).toBeGreaterThan(10);
  });

  it("with REDIS_WAIT_REPLICAS=1: refuses no add, and every add acked is on the replica", async () => {
    const master = await startRedis();
    cleanups.push(() => master.stop());
    const replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
    cleanups.push(() => replica.stop());
    const replicaClient = replica.client();
    await until("the replica is in sync", async () => (await replicaClient.info("replication")).includes("master_link_status:up"), 10_000);
    const servers = await startReplicas(2, {
      STORE: "redis",
      REDIS_URL: master.url,
      HISTORY_MAX: "1000",
      REDIS_WAIT_REPLICAS: "1",
      REDIS_WAIT_TIMEOUT_MS: "1000",
    });
    cleanups.push(async () => void (await Promise.all(servers.map((server) => server.close()))));

    const outcome = await writeWhileFlushing(servers, master.client(), "flushwait");
    expect(outcome.refused).toEqual([]);
    expect(outcome.retriesNotDuplicate).toBe(0);
    await expectStoredExactlyOnce(master.client(), outcome);
    // Read at once, not after a settle: an ack said "on the replica" (WAIT after the write).
    await expectStoredExactlyOnce(replicaClient, outcome);
  });
});
