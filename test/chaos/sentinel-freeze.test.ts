/**
 * A Sentinel master that hangs instead of dying (SIGSTOP for 10 s): its TCP
 * connections stay open, so nothing closes them for ioredis. The Sentinels
 * fail over; the servers follow the +switch-master announcement
 * (failoverDetector) while the old master is still frozen, their stall
 * guards refuse adds at once meanwhile, and writes resume on the new master
 * before the old one wakes. Nothing acked is lost, nothing stored twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type TestSocket } from "../support/clients.js";
import { type RedisSentinel, startRedisSentinel } from "../support/redis-sentinel.js";
import { type ServerProcess, spawnServer } from "../support/servers.js";
import { httpStatus, until } from "../support/wait.js";
import { idsOf, startWorkload, verifyStored } from "../support/workload.js";

let deployment: RedisSentinel;
let replicas: ServerProcess[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  deployment = await startRedisSentinel();
  const env = { STORE: "redis", ...deployment.serverEnv, HISTORY_MAX: "1000" };
  replicas = await Promise.all([spawnServer(env), spawnServer(env)]);
  await until(
    "both replicas are ready",
    async () => (await Promise.all(replicas.map((r) => httpStatus(r.url, "/readyz")))).every((s) => s === 200),
    20_000,
  );
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
  for (const node of deployment?.dataNodes ?? []) node.signal("SIGCONT");
  await deployment?.stop();
});

describe("the Sentinel master frozen with SIGSTOP for 10 s", () => {
  it("is failed over while frozen: the servers move to the new master and writes resume before it wakes", async () => {
    const users = Array.from({ length: 8 }, (_, i) => `freeze_${i}`);
    const writers = await Promise.all(
      users.map(async (userId, i) => {
        const socket = await connect(replicas[i % 2]!.url, { userId });
        sockets.push(socket);
        return { userId, socket };
      }),
    );
    const workload = startWorkload(writers, { idPrefix: "freeze", intervalMs: 20 });
    await workload.waitForAcks(200);

    const frozen = await deployment.master();
    frozen.signal("SIGSTOP");
    const frozenAt = Date.now();
    let resumedMs: number;
    try {
      const before = new Map(users.map((userId) => [userId, workload.ackedBy(userId)]));
      await until(
        "every writer acks 20 more on the new master",
        () => users.every((userId) => workload.ackedBy(userId) >= before.get(userId)! + 20),
        9_500,
        50,
      );
      resumedMs = Date.now() - frozenAt;
      expect((await deployment.master()).port).not.toBe(frozen.port);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - frozenAt))));
    } finally {
      frozen.signal("SIGCONT");
    }
    // The old master wakes, is demoted by the Sentinels, and writes carry on.
    await deployment.waitSettled();
    await workload.waitForAcks(100);

    const report = await workload.stop();
    const master = (await deployment.master()).client();
    const check = await verifyStored(report.acked, async (userId) => idsOf(await master.lrange(`temp_memory:${userId}:messages`, 0, -1)));
    console.info(
      `[sentinel master SIGSTOP 10 s] acked=${check.ackedCount} lost=${check.lost.length} duplicates=${check.duplicates.length} ` +
        `writes resumed ${resumedMs}ms after SIGSTOP (before SIGCONT) longest writer outage=${report.longestOutageMs}ms refusals=${JSON.stringify(report.failures)}`,
    );
    expect(check.duplicates).toEqual([]);
    expect(check.lost).toEqual([]);
    for (const replica of replicas) expect(replica.output()).toContain("redis stopped answering on an open connection");
  }, 120_000);
});
