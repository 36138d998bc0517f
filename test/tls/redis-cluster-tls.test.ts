/**
 * Redis Cluster over TLS only (PROTOCOL.md §1, REDIS_TLS_*): three masters
 * with a replica each, on TLS ports that ask for client certificates, the
 * cluster bus and replication over TLS too; two scrollback replicas reach
 * every node over TLS, with fan-out over sharded Pub/Sub.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCertificates, type TestCertificates } from "../../dev/test-certificates.js";
import { connect, nextEvent, requestOk, type TestSocket } from "../support/clients.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { waitReady } from "../support/wait.js";

let dir: string;
let certificates: TestCertificates;
let cluster: RedisCluster;
let servers: TestServer[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scrollback-cluster-tls-"));
  certificates = makeTestCertificates(dir);
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, tls: certificates });
  servers = await startReplicas(2, {
    STORE: "redis",
    ...cluster.serverEnv,
    REDIS_TLS_CA_FILE: certificates.caFile,
    REDIS_TLS_CERT_FILE: certificates.clientCertFile,
    REDIS_TLS_KEY_FILE: certificates.clientKeyFile,
  });
  await Promise.all(servers.map((server) => waitReady(server.url)));
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(servers.map((server) => server.close()));
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(server: TestServer, userId: string): Promise<TestSocket> {
  const socket = await connect(server.url, { userId });
  sockets.push(socket);
  return socket;
}

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
