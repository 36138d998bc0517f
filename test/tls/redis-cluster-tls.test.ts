/**
 * Redis Cluster over TLS only (PROTOCOL.md §1, REDIS_TLS_*): three masters
 * with a replica each, on TLS ports that ask for client certificates, the
 * cluster bus and replication over TLS too; two scrollback replicas reach
 * every node over TLS, with fan-out over sharded Pub/Sub.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { nextEvent, requestOk } from "../support/clients.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { useReplicasOnDeployment } from "../support/replicas-on-deployment.js";
import type { TestServer } from "../support/servers.js";
import { useSuiteCertificates } from "../support/suite-certificates.js";

const tls = useSuiteCertificates("cluster-tls");
const onCluster = useReplicasOnDeployment(
  () => startRedisCluster({ masters: 3, replicasPerMaster: 1, tls: tls.certificates }),
  () => tls.clientEnv,
);
const open = onCluster.open;
let cluster: RedisCluster;
let servers: TestServer[] = [];

beforeAll(async () => {
  cluster = onCluster.deployment;
  servers = await onCluster.startReplicas(2);
});

describe("Redis Cluster over TLS", () => {
  it("every node is TLS only", async () => {
    for (const node of cluster.nodes) expect(node.url).toMatch(/^rediss:\/\//);
    expect(await cluster.nodes[0]!.client().config("GET", "port")).toEqual(["port", "0"]);
  });

  it("adds of users spread over every master fan out between replicas and load back", async () => {
    const [one, two] = servers as [TestServer, TestServer];
    // Enough users that their keys land on all three masters.
    const users = Array.from({ length: 12 }, (_, index) => `cluster_tls_${index}`);
    for (const user of users) {
      const sender = await open(one, user);
      const receiver = await open(two, user);
      const arrival = nextEvent(receiver, "message:new");
      const ack = await requestOk(sender, "message:add", { content: `hello ${user}` });
      expect(await arrival).toEqual(ack.message);
      expect((await requestOk(receiver, "history:load")).messages.map((message) => message.content)).toEqual([`hello ${user}`]);
    }
    const client = cluster.client();
    const owners = new Set<number>();
    for (const user of users) {
      const key = `temp_memory:${user}:messages`;
      expect(await client.llen(key)).toBe(1);
      owners.add((await cluster.masterOf(Number(await client.call("CLUSTER", "KEYSLOT", key)))).port);
    }
    expect(owners.size).toBe(3);
  });
});
