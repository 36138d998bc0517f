/**
 * Redis through Sentinel (PROTOCOL.md §1 `REDIS_SENTINELS`,
 * `REDIS_SENTINEL_NAME`): a real master, replica and three Sentinels, two
 * scrollback replicas on them, and the master SIGKILLed under a steady write
 * load.
 */
import type { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import type { RedisServer } from "../../dev/redis-server.js";
import { loadConfig } from "../../server/src/config.js";
import { createRedisClient } from "../../server/src/redis-connections.js";
import { nextEvent, requestOk } from "../support/clients.js";
import { type RedisSentinel, SENTINEL_MASTER_NAME, startRedisSentinel } from "../support/redis-sentinel.js";
import { useReplicasOnDeployment } from "../support/replicas-on-deployment.js";
import { until } from "../support/wait.js";
import { checkRecovery, idsOf, startWorkload } from "../support/workload.js";

const key = (userId: string) => `temp_memory:${userId}:messages`;

const onSentinel = useReplicasOnDeployment(startRedisSentinel, () => ({
  REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
  HISTORY_MAX: "1000",
  LOG_LEVEL: process.env.LL ?? "silent",
}));
const startOnSentinel = onSentinel.startReplicas;
const open = onSentinel.open;
let deployment: RedisSentinel;

beforeAll(() => {
  deployment = onSentinel.deployment;
});

describe("through Sentinel", () => {
  it("writes to the master the Sentinels name, which replicates them, and fans out across replicas", async () => {
    const [one, two] = await startOnSentinel(2);
    const sender = await open(one!, "sentinel_fan");
    const receiver = await open(two!, "sentinel_fan");
    const arrival = nextEvent(receiver, "message:new");
    const ack = await requestOk(sender, "message:add", { id: "via-sentinel", content: "hello" });
    expect(await arrival).toEqual(ack.message);
    const master = (await deployment.master()).client();
    expect(idsOf(await master.lrange(key("sentinel_fan"), 0, -1))).toEqual(["via-sentinel"]);
    const replica = (await deployment.replica()).client();
    await until("the replica has the message", async () => (await replica.llen(key("sentinel_fan"))) === 1, 5_000);
  });

  it("keeps connecting when a +switch-master aborts a reconnect, and stays closed once closed", async () => {
    const client = createRedisClient(loadConfig({ STORE: "redis", ...deployment.serverEnv }).redis, "data") as Redis;
    client.on("error", () => {});
    try {
      await until("the client is ready", () => client.status === "ready", 10_000);
      // What ioredis's failover detector does on +switch-master, here while the client is
      // reconnecting (asking the Sentinels): ioredis ends the client then, for good.
      const aborted = new Promise<void>((resolve) =>
        client.once("connecting", () => {
          (client as unknown as { connector: { disconnect(): void } }).connector.disconnect();
          resolve();
        }),
      );
      client.disconnect(true);
      await aborted;
      await until("the client is ready again", () => client.status === "ready", 10_000);
      expect(await client.ping()).toBe("PONG");
    } finally {
      await client.quit().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.status).toBe("end");
  });
});

/**
 * Kills the master under a write load, waits for the Sentinels to promote the
 * replica, and checks what the acks promised. With `rejoin`, the killed node
 * is restarted (the Sentinels make it a replica of the new master) before
 * writes are expected to resume.
 */
async function failoverUnderLoad(label: string, env: Record<string, string>, options: { rejoin?: boolean } = {}) {
  const replicas = await startOnSentinel(2, env);
  const users = Array.from({ length: 8 }, (_, i) => `${label}_${i}`);
  const writers = await Promise.all(users.map(async (userId, i) => ({ userId, socket: await open(replicas[i % 2]!, userId) })));
  const workload = startWorkload(writers, { idPrefix: label, intervalMs: 20 });
  await workload.waitForAcks(200);

  const killedAt = Date.now();
  const { oldMaster } = await deployment.killMasterAndFailover();
  const failedOverMs = Date.now() - killedAt;
  if (options.rejoin) {
    await oldMaster.restart();
    await deployment.waitSettled();
  }
  // The master the Sentinels name once the run is over, asked once.
  let master: Promise<ReturnType<RedisServer["client"]>> | undefined;
  const { check, report } = await checkRecovery({
    title: `sentinel failover${env.REDIS_WAIT_REPLICAS ? `, REDIS_WAIT_REPLICAS=${env.REDIS_WAIT_REPLICAS}` : ""}`,
    label,
    workload,
    users,
    open: (replica, userId) => open(replicas[replica]!, userId),
    killedAt,
    failedOverMs,
    // On a quiet machine writes resume within seconds of the promotion; the
    // whole suite in parallel on two cores has taken over 30 s (issue noted).
    resumeWithinMs: 60_000,
    readIds: async (userId) => {
      master ??= deployment.master().then((node) => node.client());
      return idsOf(await (await master).lrange(key(userId), 0, -1));
    },
  });
  for (const ids of report.acked.values()) expect(ids.length).toBeLessThan(1000);
  return { check, oldMaster };
}

describe("the master SIGKILLed under load", () => {
  // First: it brings the killed master back as a replica, for the next test.
  it("with REDIS_WAIT_REPLICAS=1 loses no acked write (and writes wait for a replica to rejoin)", async () => {
    const { check } = await failoverUnderLoad("swait", { REDIS_WAIT_REPLICAS: "1" }, { rejoin: true });
    expect(check.lost).toEqual([]);
  }, 150_000);

  // Last: it leaves the deployment without a replica.
  it("is failed over by the Sentinels: the servers follow the new master, writes resume, nothing is stored twice", async () => {
    await failoverUnderLoad("sfail", {});
  }, 150_000);
});
