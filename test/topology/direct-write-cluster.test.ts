/**
 * On a real Redis Cluster (3 masters, a replica each): the `scrollback`
 * Redis Function is loaded on every master, a direct write for a user on any
 * master reaches their open tab, and after a master fails over its promoted
 * replica serves the function (PROTOCOL.md §9). And the inbox's Cluster path
 * (PROTOCOL.md §8): the per-user quota holds, and entries older than
 * HISTORY_TTL_SECONDS are trimmed by the XADD's round trip.
 */
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { draftsKey, messageIdsKey, messagesKey } from "../../server/src/store/redis-keys.js";
import { collect, connect, type TestSocket } from "../support/clients.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";

const TOKEN = "direct-cluster-token";
const STREAM = "temp_memory:inbox";
const PREFIX = "temp_memory";
const TTL_SECONDS = 3_600;

let cluster: RedisCluster;
let reader: Cluster;
let server: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  reader = cluster.client();
  server = await startServer({
    STORE: "redis",
    ...cluster.serverEnv,
    SERVICE_TOKEN: TOKEN,
    INBOX_STREAM: STREAM,
    HISTORY_TTL_SECONDS: String(TTL_SECONDS),
  });
  await waitReady(server.url);
}, 120_000);
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await server?.close();
  await cluster?.stop();
});

async function masterPortOf(userId: string): Promise<number> {
  return (await cluster.masterOf((await reader.cluster("KEYSLOT", messagesKey(PREFIX, userId))) as number)).port;
}

/** One user on each master. */
async function usersOnEveryMaster(stem: string): Promise<string[]> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const user = `${stem}_${i}`;
    const port = await masterPortOf(user);
    if (!byMaster.has(port)) byMaster.set(port, user);
  }
  return [...byMaster.values()];
}

function directWrite(userId: string, message: Record<string, unknown>): Promise<unknown> {
  const key = messagesKey(PREFIX, userId);
  return reader.call("FCALL", "scrollback_add", 3, key, messageIdsKey(PREFIX, userId), draftsKey(PREFIX, userId), JSON.stringify(message));
}

function post(userId: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${server.url}/api/v1/users/${userId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("FCALL scrollback_add on a Redis Cluster", () => {
  it("is loaded on every master, and a write for a user on any master reaches their open tab", { timeout: 60_000 }, async () => {
    await until(
      "every node has the library",
      async () => {
        const lists = await Promise.all(
          cluster.nodes.map(async (node) => {
            const client = node.client();
            try {
              return ((await client.call("FUNCTION", "LIST", "LIBRARYNAME", "scrollback")) as unknown[]).length;
            } finally {
              client.disconnect();
            }
          }),
        );
        return lists.every((count) => count === 1);
      },
      20_000,
    );
    for (const user of await usersOnEveryMaster("direct_cluster")) {
      const tab = await connect(server.url, { userId: user });
      sockets.push(tab);
      const heard = collect(tab, "message:new");
      expect(await directWrite(user, { id: `c-${user}`, content: "over the cluster" })).toEqual([
        "stored",
        expect.stringContaining(`"userId":"${user}"`),
      ]);
      expect(((await directWrite(user, { id: `c-${user}`, content: "retry" })) as string[])[0]).toBe("duplicate");
      await until(`${user}'s tab heard it`, () => heard.length === 1, 5_000, 20);
      expect(heard[0]).toMatchObject({ id: `c-${user}`, content: "over the cluster", userId: user });
    }
  });

  it("keeps the per-user inbox quota and trims entries older than HISTORY_TTL_SECONDS on the stream's master", {
    timeout: 60_000,
  }, async () => {
    const [seconds] = await reader.time();
    await reader.xadd(STREAM, `${Number(seconds) * 1000 - TTL_SECONDS * 1000 - 60_000}-0`, "id", "too old");
    const statuses: number[] = [];
    for (let i = 0; i < 62; i++) statuses.push((await post("cluster_flooder", { id: `flood-${i}`, content: "x" })).status);
    expect(statuses.slice(0, 60)).toEqual(Array(60).fill(201));
    expect(statuses.slice(60)).toEqual([429, 429]);
    await until("the accepted ones are in the stream", async () => (await reader.xlen(STREAM)) >= 60, 5_000);
    const ids = (await reader.xrange(STREAM, "-", "+")).map(([, fields]) => fields[fields.indexOf("id") + 1]);
    expect(ids).not.toContain("too old");
    expect(ids.filter((id) => id?.startsWith("flood-"))).toHaveLength(60);
  });

  it("is served by a promoted replica after its master fails over", { timeout: 90_000 }, async () => {
    const [user] = await usersOnEveryMaster("direct_failover");
    const master = await cluster.masterOf((await reader.cluster("KEYSLOT", messagesKey(PREFIX, user!))) as number);
    await cluster.killAndFailover(master);
    await until(
      "the write lands on the promoted replica",
      async () => {
        try {
          return ((await directWrite(user!, { id: "after-failover", content: "still here" })) as string[])[0] !== undefined;
        } catch {
          return false;
        }
      },
      30_000,
      200,
    );
    expect((await reader.lrange(messagesKey(PREFIX, user!), 0, -1)).map((raw) => JSON.parse(raw).id)).toEqual(["after-failover"]);
  });
});
