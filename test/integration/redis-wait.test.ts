/**
 * `REDIS_WAIT_REPLICAS` with its Redis replica gone (PROTOCOL.md §4,
 * `message:add`): a real master and replica, the replica SIGKILLed. One
 * user's adds wait out `WAIT` and answer UNAVAILABLE, without holding up
 * anyone else's calls, and the connections of the user who wrote still learn
 * of the message that is on the master.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, nextEvent, request, type TestSocket } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

const WAIT_TIMEOUT_MS = 1_500;

let master: RedisServer;
let replica: RedisServer;
let servers: TestServer[];
const sockets: TestSocket[] = [];

async function open(server: TestServer, userId: string): Promise<TestSocket> {
  const socket = await connect(server.url, { userId });
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  master = await startRedis();
  replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
  const replicaClient = replica.client();
  await until("the replica is in sync", async () => (await replicaClient.info("replication")).includes("master_link_status:up"), 10_000);
  servers = await startReplicas(2, {
    STORE: "redis",
    REDIS_URL: master.url,
    REDIS_WAIT_REPLICAS: "1",
    REDIS_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
  });
  // With the replica in sync, an add is acked.
  const writer = await open(servers[0]!, "wait_warmup");
  expect(await request(writer, "message:add", { content: "replicated" })).toMatchObject({ ok: true });
  await replica.kill();
  const masterClient = master.client();
  await until(
    "the master has no replica left",
    async () => (await masterClient.info("replication")).includes("connected_slaves:0"),
    10_000,
  );
  masterClient.disconnect();
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all((servers ?? []).map((server) => server.close()));
  await replica?.stop();
  await master?.stop();
});

describe("with REDIS_WAIT_REPLICAS=1 and the only replica gone", () => {
  it("holds up only the writer: another user's history:load on the same server answers at once", async () => {
    const writerTabs = await Promise.all([0, 1, 2].map(() => open(servers[0]!, "wait_writer")));
    const reader = await open(servers[0]!, "wait_reader");

    const startedAdds = Date.now();
    const adds = writerTabs.map((tab, i) => request(tab, "message:add", { id: `unreplicated-${i}`, content: `waits ${i}` }));
    // Let the adds reach Redis (their WAITs now block) before the reader asks.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const loadTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      expect(await request(reader, "history:load", {})).toMatchObject({ ok: true });
      loadTimes.push(Date.now() - started);
    }
    for (const answer of await Promise.all(adds)) expect(answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    // The first waited out WAIT; the others queued behind it (one waiting
    // add per user) and were answered by the deadline.
    expect(Date.now() - startedAdds).toBeGreaterThanOrEqual(WAIT_TIMEOUT_MS);
    expect(Date.now() - startedAdds).toBeLessThan(WAIT_TIMEOUT_MS + 1_000);
    expect(Math.max(...loadTimes)).toBeLessThan(WAIT_TIMEOUT_MS / 5);

    // Nothing tripped the stall guard: the reader is still served after the waits.
    const started = Date.now();
    expect(await request(reader, "history:load", {})).toMatchObject({ ok: true });
    expect(Date.now() - started).toBeLessThan(WAIT_TIMEOUT_MS / 5);
  });

  it("tells the writer's other connections on this server and on the other one, though the add answers UNAVAILABLE", async () => {
    const writer = await open(servers[0]!, "wait_fanout");
    const sameServer = await open(servers[0]!, "wait_fanout");
    const otherServer = await open(servers[1]!, "wait_fanout");
    const arrivals = [nextEvent(sameServer, "message:new", 5_000), nextEvent(otherServer, "message:new", 5_000)];
    const answer = await request(writer, "message:add", { id: "short-of-replicas", content: "on the master only" });
    expect(answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    for (const message of await Promise.all(arrivals))
      expect(message).toMatchObject({ id: "short-of-replicas", content: "on the master only" });
  });

  it("queues a user's adds behind their own: another user's add waits out only its own WAIT", async () => {
    const flooder = await open(servers[0]!, "wait_flooder");
    const victim = await open(servers[0]!, "wait_victim");
    const flood = Array.from({ length: 40 }, (_, i) => request(flooder, "message:add", { id: `flood-${i}`, content: `flood ${i}` }));
    // Let the flood reach the server first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const answer = await request(victim, "message:add", { content: "during the flood" });
    const took = Date.now() - started;
    expect(answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE", message: expect.stringContaining("0 of 1 replicas") } });
    expect(took).toBeGreaterThanOrEqual(WAIT_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(WAIT_TIMEOUT_MS * 1.5);
    for (const floodAnswer of await Promise.all(flood)) expect(floodAnswer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    // Adds whose turn came after their deadline were never sent: only the
    // first and, at most, the one that followed it are on the master.
    const inspector = master.client();
    await new Promise((resolve) => setTimeout(resolve, WAIT_TIMEOUT_MS + 500));
    expect(await inspector.llen("temp_memory:wait_flooder:messages")).toBeLessThanOrEqual(2);
  });

  // Last: it leaves the master frozen until its end.
  it("still trips the stall guard when the master itself freezes: adds are then refused at once and never run later", async () => {
    const writer = await open(servers[0]!, "wait_frozen");
    master.signal("SIGSTOP");
    try {
      const first = await request(writer, "message:add", { id: "sent-while-frozen", content: "x" });
      expect(first).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
      let refusedIds: string[] = [];
      await until(
        "adds are refused at once",
        async () => {
          const id = `refused-${refusedIds.length}`;
          refusedIds.push(id);
          const started = Date.now();
          const answer = await request(writer, "message:add", { id, content: "never sent" });
          return answer.ok === false && Date.now() - started < 100;
        },
        10_000,
        50,
      );
      // Only the last one is known to have been refused without being sent.
      refusedIds = refusedIds.slice(-1);
      master.signal("SIGCONT");
      // Stored again (still answered UNAVAILABLE: no replica to confirm it).
      const inspector = master.client();
      const storedIds = async () =>
        (await inspector.lrange("temp_memory:wait_frozen:messages", 0, -1)).map((element) => (JSON.parse(element) as { id: string }).id);
      await until(
        "adds are stored again",
        async () => {
          await request(writer, "message:add", { id: "after", content: "after" });
          return (await storedIds()).includes("after");
        },
        10_000,
      );
      expect(await storedIds()).not.toContain(refusedIds[0]);
    } finally {
      master.signal("SIGCONT");
    }
  });
});
