/**
 * A Redis Cluster master frozen with SIGSTOP (PROTOCOL.md §4 store deadline,
 * §5 /readyz): its connections stay open, so without a guard every write to
 * it would wait out the deadline and then sit in the socket, to run when it
 * wakes. Each master has its own stall guard: the frozen master's users are
 * refused at once, with nothing sent, while other masters' users carry on.
 * The node timeout is long, so the cluster does not fail the frozen master
 * over (nor declare itself down) during the test.
 */
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedisServer } from "../../dev/redis-server.js";
import { connect, request, type TestSocket } from "../support/clients.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";
import { idsOf } from "../support/workload.js";

const key = (userId: string) => `temp_memory:${userId}:messages`;

let cluster: RedisCluster;
let reader: Cluster;
let server: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0, nodeTimeoutMs: 60_000 });
  reader = cluster.client();
  server = await startServer({ STORE: "redis", ...cluster.serverEnv });
  await waitReady(server.url);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await server?.close();
  await cluster?.stop();
});

async function masterOfUser(userId: string): Promise<RedisServer> {
  return cluster.masterOf((await reader.cluster("KEYSLOT", key(userId))) as number);
}

async function timed<T>(work: Promise<T>): Promise<{ answer: T; ms: number }> {
  const started = Date.now();
  const answer = await work;
  return { answer, ms: Date.now() - started };
}

describe("a Cluster master frozen with SIGSTOP", () => {
  it("refuses its users at once without queueing their writes, serves the other masters' users, and /readyz names it", async () => {
    const frozenUser = "freeze_victim";
    const victim = await masterOfUser(frozenUser);
    let otherUser = "";
    for (let i = 0; !otherUser; i++) if ((await masterOfUser(`freeze_other_${i}`)).port !== victim.port) otherUser = `freeze_other_${i}`;
    const [frozenSocket, otherSocket] = [
      await connect(server.url, { userId: frozenUser }),
      await connect(server.url, { userId: otherUser }),
    ];
    sockets.push(frozenSocket, otherSocket);
    expect(await request(frozenSocket, "message:add", { id: "before", content: "before the freeze" })).toMatchObject({ ok: true });

    victim.signal("SIGSTOP");
    try {
      // The first write is sent, and outlives the deadline.
      const first = await timed(request(frozenSocket, "message:add", { id: "sent-while-frozen", content: "x" }));
      expect(first.answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
      expect(first.ms).toBeLessThan(2_500);
      // From then on the frozen master's users are refused at once, and nothing is sent.
      await until(
        "the frozen master's users are refused at once",
        async () => {
          const { answer, ms } = await timed(request(frozenSocket, "history:load", {}));
          return answer.ok === false && ms < 200;
        },
        5_000,
        50,
      );
      const refused = await timed(request(frozenSocket, "message:add", { id: "refused-while-frozen", content: "never sent" }));
      expect(refused.answer).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
      expect(refused.ms).toBeLessThan(200);

      // Another master's user is not held up.
      for (let i = 0; i < 3; i++) {
        const add = await timed(request(otherSocket, "message:add", { content: `while the other master is frozen ${i}` }));
        expect(add.answer).toMatchObject({ ok: true });
        expect(add.ms).toBeLessThan(500);
        const load = await timed(request(otherSocket, "history:load", {}));
        expect(load.answer).toMatchObject({ ok: true });
        expect(load.answer.ok && load.answer.messages).toHaveLength(i + 1);
        expect(load.ms).toBeLessThan(500);
      }

      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await ready.json()).error.message).toContain(`127.0.0.1:${victim.port}`);
    } finally {
      victim.signal("SIGCONT");
    }

    await waitReady(server.url, 15_000);
    await until(
      "the frozen master's user is served again",
      async () => (await request(frozenSocket, "message:add", { id: "after", content: "after" })).ok === true,
      10_000,
    );
    const stored = idsOf(await reader.lrange(key(frozenUser), 0, -1));
    expect(stored).not.toContain("refused-while-frozen");
    expect(stored).toContain("after");
  }, 60_000);
});
