/**
 * Redis Cluster (PROTOCOL.md §1 `REDIS_CLUSTER_NODES`, §2 "a user's keys all
 * hash to one slot"): a real 3-master cluster with one replica per master,
 * two scrollback replicas on it, fan-out over sharded Pub/Sub, and a master
 * SIGKILLed under a steady write load.
 */
import type { Cluster } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { interleaveClearsAndAdds } from "../support/clear-order.js";
import { nextEvent, request, requestOk } from "../support/clients.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { useReplicasOnDeployment } from "../support/replicas-on-deployment.js";
import type { TestServer } from "../support/servers.js";
import { checkRecovery, idsOf, startWorkload } from "../support/workload.js";

const KEY_PREFIX = "temp_memory";
const key = (userId: string) => `${KEY_PREFIX}:${userId}:messages`;

const onCluster = useReplicasOnDeployment(
  () => startRedisCluster({ masters: 3, replicasPerMaster: 1 }),
  () => ({ HISTORY_MAX: "1000" }),
);
/** Starts `count` scrollback replicas on the cluster and waits until they are ready. */
const startOnCluster = onCluster.startReplicas;
const open = onCluster.open;
let cluster: RedisCluster;
let reader: Cluster;

beforeAll(() => {
  cluster = onCluster.deployment;
  reader = cluster.client();
});

/** The cluster slot of a user's key. */
async function slotOf(userId: string): Promise<number> {
  return (await reader.cluster("KEYSLOT", key(userId))) as number;
}

describe("on a 3-master Redis Cluster", () => {
  let replicas: TestServer[];
  beforeAll(async () => {
    replicas = await startOnCluster(2);
  });

  it("keeps each user's history in the one slot of its key, with users spread over every master", async () => {
    const users = Array.from({ length: 30 }, (_, i) => `spread_${i}`);
    for (const [i, userId] of users.entries()) {
      const socket = await open(replicas[i % 2]!, userId);
      expect(await request(socket, "message:add", { id: `s-${i}`, content: `hello ${i}` })).toMatchObject({ ok: true });
    }
    const mastersHolding = new Set<number>();
    for (const userId of users) {
      const master = await cluster.masterOf(await slotOf(userId));
      mastersHolding.add(master.port);
      // Read straight from the master that owns the slot: the key lives there, whole.
      const node = master.client();
      expect(idsOf(await node.lrange(key(userId), 0, -1))).toHaveLength(1);
      expect(await node.ttl(key(userId))).toBeGreaterThan(86_000);
    }
    expect(mastersHolding.size).toBe(3);
  });

  it("fans every message out to the user's connections on the other replica over sharded Pub/Sub", async () => {
    const users = Array.from({ length: 30 }, (_, i) => `fan_${i}`);
    const pairs = await Promise.all(
      users.map(async (userId) => [await open(replicas[0]!, userId), await open(replicas[1]!, userId)] as const),
    );
    await Promise.all(
      pairs.map(async ([sender, receiver], i) => {
        const arrival = nextEvent(receiver, "message:new");
        const ack = await requestOk(sender, "message:add", { content: `to the other replica ${i}` });
        expect(await arrival).toEqual(ack.message);
      }),
    );
    // The rooms are shard channels on the masters that own their slots, not classic channels.
    const shardChannels = new Set<string>();
    const classicChannels = new Set<string>();
    for (const node of cluster.nodes) {
      const client = node.client();
      for (const channel of (await client.call("PUBSUB", "SHARDCHANNELS", `socket.io#/#user:{${KEY_PREFIX}:fan_*`)) as string[])
        shardChannels.add(channel);
      for (const channel of (await client.call("PUBSUB", "CHANNELS", "socket.io*")) as string[]) classicChannels.add(channel);
    }
    for (const userId of users) expect(shardChannels).toContain(userRoomChannel(KEY_PREFIX, userId));
    expect(classicChannels.size).toBe(0);
  });

  it("gives every listening tab, on either replica, what Redis holds after clears and adds from both replicas at once (published in-slot by the scripts)", async () => {
    const userId = "order_on_cluster";
    const writers = [await open(replicas[0]!, userId), await open(replicas[1]!, userId)];
    const listeners = [await open(replicas[0]!, userId), await open(replicas[1]!, userId)];
    const readIds = async () => idsOf(await reader.lrange(key(userId), 0, -1));
    expect(await interleaveClearsAndAdds({ writers, listeners, rounds: 60, addsPerRound: 3, tag: "cluster", readIds })).toEqual([]);
  });
});

/**
 * Kills the master of the first user's slot under a write load, waits for
 * the failover, and checks what the acks promised. With `rejoin`, the killed
 * node is restarted (it comes back as a replica of its heir) before writes
 * are expected to resume.
 */
async function failoverUnderLoad(replicas: TestServer[], label: string, options: { rejoin?: boolean } = {}) {
  const users = Array.from({ length: 12 }, (_, i) => `${label}_${i}`);
  const writers = await Promise.all(users.map(async (userId, i) => ({ userId, socket: await open(replicas[i % 2]!, userId) })));
  const victim = await cluster.masterOf(await slotOf(users[0]!));
  const affected: string[] = [];
  for (const userId of users) if ((await cluster.masterOf(await slotOf(userId))).port === victim.port) affected.push(userId);

  const workload = startWorkload(writers, { idPrefix: label, intervalMs: 20 });
  await workload.waitForAcks(200);
  const killedAt = Date.now();
  await cluster.killAndFailover(victim);
  const failedOverMs = Date.now() - killedAt;
  if (options.rejoin) {
    await victim.restart();
    await cluster.waitHealthy();
  }

  // Writes resume for the users whose slots moved, and fan-out for one of them.
  const { check, report } = await checkRecovery({
    title: `cluster failover${label.includes("wait") ? ", REDIS_WAIT_REPLICAS=1" : ""}`,
    label,
    workload,
    users: affected,
    open: (replica, userId) => open(replicas[replica]!, userId),
    killedAt,
    failedOverMs,
    readIds: async (userId) => idsOf(await reader.lrange(key(userId), 0, -1)),
  });
  for (const ids of report.acked.values()) expect(ids.length).toBeLessThan(1000);
  return { check, victim };
}

describe("a master SIGKILLed under load", () => {
  it("is failed over: the servers follow the new master, writes resume, nothing is stored twice", async () => {
    const replicas = await startOnCluster(2);
    const { victim } = await failoverUnderLoad(replicas, "fail");
    // The old master comes back as a replica of its heir, ready for the next failover.
    await victim.restart();
    await cluster.waitHealthy();
    expect((await cluster.topology()).find((node) => node.port === victim.port)?.role).toBe("replica");
  }, 120_000);

  it("with REDIS_WAIT_REPLICAS=1 loses no acked write (and writes wait for a replica to rejoin)", async () => {
    const replicas = await startOnCluster(2, { REDIS_WAIT_REPLICAS: "1" });
    const { check } = await failoverUnderLoad(replicas, "wait", { rejoin: true });
    expect(check.lost).toEqual([]);
  }, 120_000);
});
