/**
 * Redis going away and coming back (PROTOCOL.md §1, §4 UNAVAILABLE): nothing
 * acked is lost, refused writes are never stored behind the client's back,
 * retries with the same id are stored once, and everything heals.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, nextEvent, reconnectWhenServerDisconnects, request, requestOk, type TestSocket } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";
import { messageArrival } from "../support/workload.js";

let redis: RedisServer;
let replicas: TestServer[];
let sockets: TestSocket[];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
});

beforeEach(async () => {
  redis = await startRedis({ appendOnly: true });
  replicas = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url });
  sockets = [await connect(replicas[0]!.url, { userId: "outage_user" }), await connect(replicas[1]!.url, { userId: "outage_user" })];
});
afterEach(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(replicas.map((replica) => replica.close()));
  await redis.stop();
  expect(unhandled).toEqual([]);
});

const readyStatus = async (replica: TestServer) => (await fetch(`${replica.url}/readyz`)).status;

describe("Redis killed with SIGKILL, then restarted on the same port and AOF dir", () => {
  it("keeps every acked message, refuses writes fast during the outage, stores a retried id once, and heals", async () => {
    const [socket, twin] = sockets as [TestSocket, TestSocket];
    const acked: string[] = [];
    for (let i = 0; i < 20; i++)
      acked.push((await requestOk(socket, "message:add", { id: `before-${i}`, content: `before ${i}` })).message.id);

    await redis.kill();
    // Once its fan-out subscriber is back, each replica disconnects its tabs so they catch up (PROTOCOL.md §4).
    const kicked = sockets.map((tab) => nextEvent(tab, "disconnect", 30_000));
    for (const tab of sockets) reconnectWhenServerDisconnects(tab);

    // Writes and reads answer UNAVAILABLE, each well within 2 s.
    for (const [event, payload] of [
      ["message:add", { id: "during-1", content: "during the outage" }],
      ["history:load", {}],
      ["history:search", { query: "x" }],
      ["history:clear", {}],
    ] as const) {
      const started = Date.now();
      const answer = await request(socket, event, payload);
      expect(answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    await until("/readyz answers 503", async () => (await readyStatus(replicas[0]!)) === 503, 15_000);
    const metrics = await (await fetch(`${replicas[0]!.url}/metrics`)).text();
    expect(metrics).toMatch(/^scrollback_redis_up 0$/m);
    expect((await fetch(`${replicas[0]!.url}/healthz`)).status).toBe(200);

    await redis.restart();
    await until("the replicas recover", async () => (await readyStatus(replicas[0]!)) === 200 && (await readyStatus(replicas[1]!)) === 200);
    expect(await Promise.all(kicked)).toEqual(["io server disconnect", "io server disconnect"]);
    await until("both tabs are connected again", () => sockets.every((tab) => tab.connected));
    await until("reads answer again", async () => (await request(twin, "history:load")).ok === true);

    // The refused write was not queued and replayed behind the client's back.
    const afterRestart = await requestOk(twin, "history:load");
    expect(afterRestart.messages.map((m: { id: string }) => m.id)).toEqual(acked.slice(-15));

    // Retrying the refused id stores it exactly once, and fan-out works across replicas again.
    const delivered = nextEvent(twin, "message:new", 5_000);
    const retry = await request(socket, "message:add", { id: "during-1", content: "during the outage" });
    expect(retry).toMatchObject({ ok: true, duplicate: false });
    expect((await delivered).id).toBe("during-1");
    expect(await request(socket, "message:add", { id: "during-1", content: "during the outage" })).toMatchObject({
      ok: true,
      duplicate: true,
    });
    const final = await requestOk(twin, "history:search", { query: "during" });
    expect(final.messages).toHaveLength(1);
  });
});

describe("Redis frozen with SIGSTOP", () => {
  it("answers UNAVAILABLE within 2 s, and a retry with the same id after SIGCONT is stored once", async () => {
    const [socket, twin] = sockets as [TestSocket, TestSocket];
    await request(socket, "message:add", { id: "warm", content: "warm up" });
    redis.signal("SIGSTOP");
    try {
      const started = Date.now();
      const answer = await request(socket, "message:add", { id: "frozen-1", content: "sent while frozen" });
      expect(answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
      expect(Date.now() - started).toBeLessThan(2_000);
      // The event loop stays responsive while Redis hangs.
      const health = Date.now();
      expect((await fetch(`${replicas[0]!.url}/healthz`)).status).toBe(200);
      expect(Date.now() - health).toBeLessThan(500);
    } finally {
      redis.signal("SIGCONT");
    }
    // The timed-out write may or may not have landed; the retry makes it exactly one.
    await until(
      "the retried add is stored",
      async () => (await request(socket, "message:add", { id: "frozen-1", content: "sent while frozen" })).ok === true,
    );
    const found = await requestOk(twin, "history:search", { query: "frozen" });
    expect(found.messages.map((m: { id: string }) => m.id)).toEqual(["frozen-1"]);
  });
});

describe("a write that lands after its UNAVAILABLE answer", () => {
  it("still reaches the user's other connections, on this replica and the other", async () => {
    const [socket, otherReplica] = sockets as [TestSocket, TestSocket];
    const sameReplica = await connect(replicas[0]!.url, { userId: "outage_user" });
    sockets.push(sameReplica);
    await request(socket, "message:add", { id: "warm-late", content: "warm up" });
    const arrivals = Promise.all([messageArrival(sameReplica, "late-1", 10_000), messageArrival(otherReplica, "late-1", 10_000)]);

    redis.signal("SIGSTOP");
    let answer: unknown;
    try {
      // The command is already in Redis's socket when the deadline answers.
      answer = await request(socket, "message:add", { id: "late-1", content: "stored late" });
    } finally {
      redis.signal("SIGCONT");
    }
    expect(answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    const [here, there] = await arrivals;
    expect(here.id).toBe("late-1");
    expect(there.id).toBe("late-1");
    // The retry the client makes is a duplicate, and fans nothing out again.
    await until(
      "the store answers again",
      async () => (await request(socket, "message:add", { id: "late-1", content: "stored late" })).ok === true,
    );
    expect(await request(socket, "message:add", { id: "late-1", content: "stored late" })).toMatchObject({ duplicate: true });
  });
});
