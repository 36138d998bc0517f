/**
 * Redis faults under a steady write load, against two server processes:
 * SIGKILL mid-burst (appendfsync always), SIGSTOP for 10 s, the subscriber
 * connections killed (CLIENT KILL TYPE pubsub), and a subscription that goes
 * deaf without its connection closing (the pub/sub canary's job). Each ends
 * with nothing acked lost and nothing stored twice, and `/readyz` telling
 * the truth throughout.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, reconnectWhenServerDisconnects, request, type TestSocket } from "../support/clients.js";
import { type ServerProcess, spawnServer } from "../support/servers.js";
import { httpStatus, until } from "../support/wait.js";
import { idsOf, messageArrival, startWorkload, verifyStored, type Writer } from "../support/workload.js";
import { metric, sampleHealth } from "./probes.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

let redis: RedisServer | undefined;
let proxy: TcpProxy | undefined;
let replicas: ServerProcess[] = [];
const sockets: TestSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
  replicas = [];
  await proxy?.close();
  proxy = undefined;
  await redis?.stop();
  redis = undefined;
});

/** A Redis with appendfsync always and two server processes on it (through `viaProxy` when asked). */
async function setUp(options: { viaProxy?: boolean } = {}): Promise<void> {
  redis = await startRedis({ appendOnly: true });
  if (options.viaProxy) proxy = await startTcpProxy(redis);
  const env = { STORE: "redis", REDIS_URL: proxy?.url ?? redis.url, HISTORY_MAX: "1000" };
  replicas = await Promise.all([spawnServer(env), spawnServer(env)]);
}

async function open(replica: ServerProcess, userId: string): Promise<TestSocket> {
  const socket = await connect(replica.url, { userId });
  // A replica that lost its fan-out subscription disconnects its tabs once it is back (PROTOCOL.md §4).
  reconnectWhenServerDisconnects(socket);
  sockets.push(socket);
  return socket;
}

async function openWriters(count: number, label: string): Promise<Writer[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => ({ userId: `${label}_${i}`, socket: await open(replicas[i % 2]!, `${label}_${i}`) })),
  );
}

const readIds = async (userId: string) => idsOf(await redis!.client().lrange(`temp_memory:${userId}:messages`, 0, -1));
const readiness = () => Promise.all(replicas.map((replica) => httpStatus(replica.url, "/readyz")));

/** Waits until every writer has `count` more acks than now. */
async function untilEveryWriterAcks(
  workload: ReturnType<typeof startWorkload>,
  writers: Writer[],
  count: number,
  timeoutMs = 20_000,
): Promise<void> {
  const before = new Map(writers.map(({ userId }) => [userId, workload.ackedBy(userId)]));
  await until(
    `every writer acks ${count} more`,
    () => writers.every(({ userId }) => workload.ackedBy(userId) >= before.get(userId)! + count),
    timeoutMs,
  );
}

/** Sends adds from `from` until `to` receives one; resolves with how long that took. */
async function fanOutRecovery(from: TestSocket, to: TestSocket, label: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (let i = 0; Date.now() - started < timeoutMs; i++) {
    const arrival = messageArrival(to, `${label}-${i}`, 250).then(
      () => true,
      () => false,
    );
    expect((await request(from, "message:add", { id: `${label}-${i}`, content: "probe" })).ok).toBe(true);
    if (await arrival) return Date.now() - started;
  }
  throw new Error(`fan-out did not recover within ${timeoutMs} ms`);
}

describe("Redis SIGKILLed mid-burst (appendfsync always), then restarted", () => {
  it("refuses fast and says 503 while down, heals, and loses no acked write", async () => {
    await setUp();
    const writers = await openWriters(10, "kill");
    const workload = startWorkload(writers, { idPrefix: "kill", intervalMs: 0 });
    await workload.waitForAcks(500);
    const samplers = replicas.map((replica) => sampleHealth(replica.url));

    await redis!.kill();
    const killedAt = Date.now();
    await until("both replicas answer /readyz 503", async () => (await readiness()).every((status) => status === 503), 3_000, 50);
    const probe = await open(replicas[0]!, "kill_probe");
    const started = Date.now();
    expect(await request(probe, "message:add", { id: "refused", content: "while Redis is down" })).toMatchObject({
      ok: false,
      error: { code: "UNAVAILABLE" },
    });
    expect(Date.now() - started).toBeLessThan(250);
    expect(await metric(replicas[0]!.url, "scrollback_redis_up")).toBe(0);

    await redis!.restart();
    await until("both replicas answer /readyz 200", async () => (await readiness()).every((status) => status === 200), 10_000, 50);
    await untilEveryWriterAcks(workload, writers, 20);
    const healedMs = Date.now() - killedAt;

    const report = await workload.stop();
    const health = await Promise.all(samplers.map((sampler) => sampler.stop()));
    const check = await verifyStored(report.acked, readIds);
    console.info(
      `[redis SIGKILL mid-burst] acked=${check.ackedCount} lost=${check.lost.length} duplicates=${check.duplicates.length} ` +
        `healed=${healedMs}ms longest writer outage=${report.longestOutageMs}ms refusals=${JSON.stringify(report.failures)} ` +
        `worst /healthz=${Math.round(Math.max(...health.map((h) => h.worstHealthzMs)))}ms`,
    );
    expect(check.lost).toEqual([]);
    expect(check.duplicates).toEqual([]);
    // The refused write was never stored behind the client's back.
    expect(await readIds("kill_probe")).toEqual([]);
    for (const seen of health) expect([...seen.readyStatuses].sort()).toEqual([200, 503]);
  });
});

describe("Redis frozen with SIGSTOP for 10 s, then SIGCONT", () => {
  it("keeps the event loop responsive, refuses adds at once after the first timeout, heals, and loses no acked write", async () => {
    await setUp();
    const writers = await openWriters(10, "stop");
    const workload = startWorkload(writers, { idPrefix: "stop", intervalMs: 20 });
    await workload.waitForAcks(300);
    const samplers = replicas.map((replica) => sampleHealth(replica.url));
    const probes = await Promise.all(replicas.map((replica, i) => open(replica, `stop_probe_${i}`)));

    redis!.signal("SIGSTOP");
    const frozenAt = Date.now();
    let refusalTimes: number[] = [];
    try {
      // The first store call on each replica waits out the 2 s deadline; after it, the stall guard refuses at once.
      await until(
        "both replicas' stall guards tripped",
        () => replicas.every((replica) => replica.output().includes("redis stopped answering on an open connection")),
        5_000,
        50,
      );
      const trippedAfterMs = Date.now() - frozenAt;
      expect(trippedAfterMs).toBeLessThan(2_600);
      expect(await Promise.all(replicas.map((replica) => metric(replica.url, "scrollback_redis_up")))).toEqual([0, 0]);
      for (const [i, probe] of probes.entries()) {
        for (let n = 0; n < 10; n++) {
          const started = performance.now();
          expect(await request(probe, "message:add", { id: `frozen-${i}-${n}`, content: "while frozen" })).toMatchObject({
            ok: false,
            error: { code: "UNAVAILABLE" },
          });
          refusalTimes.push(performance.now() - started);
        }
      }
      expect(await readiness()).toEqual([503, 503]);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - frozenAt))));
    } finally {
      redis!.signal("SIGCONT");
    }
    const thawedAt = Date.now();
    await until("both replicas answer /readyz 200", async () => (await readiness()).every((status) => status === 200), 10_000, 50);
    await untilEveryWriterAcks(workload, writers, 20);
    const healedMs = Date.now() - thawedAt;

    const report = await workload.stop();
    const health = await Promise.all(samplers.map((sampler) => sampler.stop()));
    const check = await verifyStored(report.acked, readIds);
    refusalTimes = refusalTimes.sort((a, b) => a - b);
    const worstHealthz = Math.max(...health.map((h) => h.worstHealthzMs));
    console.info(
      `[redis SIGSTOP 10 s] acked=${check.ackedCount} lost=${check.lost.length} duplicates=${check.duplicates.length} ` +
        `refusal while frozen: median=${refusalTimes[10]!.toFixed(1)}ms max=${refusalTimes.at(-1)!.toFixed(1)}ms ` +
        `worst /healthz=${worstHealthz.toFixed(1)}ms healed ${healedMs}ms after SIGCONT refusals=${JSON.stringify(report.failures)}`,
    );
    expect(check.lost).toEqual([]);
    expect(check.duplicates).toEqual([]);
    expect(refusalTimes.at(-1)!).toBeLessThan(100);
    expect(worstHealthz).toBeLessThan(250);
    // Adds refused at once were never sent, so nothing of theirs appears after SIGCONT.
    for (const i of [0, 1]) expect(await readIds(`stop_probe_${i}`)).toEqual([]);
    for (const seen of health) expect([...seen.readyStatuses].sort()).toEqual([200, 503]);
  });
});

describe("the subscriber connections killed (CLIENT KILL TYPE pubsub)", () => {
  it("resubscribe: fan-out across replicas works again within 5 s, in both directions", async () => {
    await setUp();
    const [a, b] = [await open(replicas[0]!, "pubsub_kill"), await open(replicas[1]!, "pubsub_kill")];
    expect(await fanOutRecovery(a!, b!, "before", 2_000)).toBeLessThan(2_000);

    const killed = Number(await redis!.client().call("CLIENT", "KILL", "TYPE", "pubsub"));
    expect(killed).toBeGreaterThanOrEqual(2);
    const [aToB, bToA] = [await fanOutRecovery(a!, b!, "a-to-b", 5_000), await fanOutRecovery(b!, a!, "b-to-a", 5_000)];
    console.info(`[CLIENT KILL TYPE pubsub] killed=${killed} fan-out back after ${aToB}ms (A→B), ${bToA}ms more (B→A)`);
    expect(aToB + bToA).toBeLessThan(5_000);
    // The store was never in doubt.
    expect(await readiness()).toEqual([200, 200]);
  });
});

describe("a subscription that goes deaf without its connection closing", () => {
  it("is noticed by the pub/sub canary, which reconnects the subscriber; fan-out comes back", async () => {
    await setUp({ viaProxy: true });
    const [a, b] = [await open(replicas[0]!, "deaf_user"), await open(replicas[1]!, "deaf_user")];
    expect(await fanOutRecovery(a!, b!, "before", 3_000)).toBeLessThan(3_000);
    await until(
      "both canaries hear their messages",
      async () => (await Promise.all(replicas.map((r) => metric(r.url, "scrollback_pubsub_up")))).every((up) => up === 1),
      5_000,
    );

    expect(proxy!.deafenSubscribers()).toBe(2);
    const deafAt = Date.now();
    // The fault is real: a message no longer crosses replicas, and nothing closed.
    const lost = messageArrival(b!, "into-the-void", 1_000).then(
      () => "arrived",
      () => "lost",
    );
    expect((await request(a!, "message:add", { id: "into-the-void", content: "unheard" })).ok).toBe(true);
    expect(await lost).toBe("lost");

    await until(
      "both canaries report the subscription broken",
      async () => (await Promise.all(replicas.map((r) => metric(r.url, "scrollback_pubsub_up")))).every((up) => up === 0),
      8_000,
      100,
    );
    const noticedMs = Date.now() - deafAt;
    // Readiness follows the store (PROTOCOL.md §5), which is fine.
    expect(await readiness()).toEqual([200, 200]);
    const recoveredMs = noticedMs + (await fanOutRecovery(a!, b!, "after", 15_000));
    await until(
      "both canaries hear again",
      async () => (await Promise.all(replicas.map((r) => metric(r.url, "scrollback_pubsub_up")))).every((up) => up === 1),
      5_000,
    );
    for (const replica of replicas) {
      expect(replica.output()).toContain("fan-out subscription is silent");
      expect(replica.output()).toContain("reconnecting the fan-out subscriber");
    }
    console.info(`[deaf subscription] canary noticed after ${noticedMs}ms, fan-out back after ${recoveredMs}ms`);
  });
});
