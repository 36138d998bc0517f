/**
 * The operator CLI against a real Redis Cluster (3 masters) with two
 * replicas on it: listing walks every master, and tail/clear use sharded
 * Pub/Sub on the node that owns the user's channel, as the replicas do.
 */
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeRedis, connectRedis } from "../../server/src/cli/redis-client.js";
import { loadConfig } from "../../server/src/config.js";
import { userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { connect, nextEvent, requestOk, type TestSocket } from "../support/clients.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { userIdsOfEveryLength } from "../support/user-ids.js";
import { cli, startCli } from "./cli-harness.js";

let cluster: RedisCluster;
let raw: Cluster;
let replicas: TestServer[];
let env: Record<string, string>;
const sockets: TestSocket[] = [];
const USERS = Array.from({ length: 30 }, (_, i) => `cluster_user_${i}`);

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  raw = cluster.client();
  replicas = await startReplicas(2, { STORE: "redis", ...cluster.serverEnv });
  // The read commands run as the read-only CLI user; clear, which writes, as the server's user.
  env = cluster.cliEnv;
  for (const user of USERS) await raw.rpush(`temp_memory:${user}:messages`, '{"content":"seeded"}');
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all((replicas ?? []).map((replica) => replica.close()));
  await cluster?.stop();
});

async function socketOf(userId: string, replica: number): Promise<TestSocket> {
  const socket = await connect(replicas[replica]!.url, { userId });
  sockets.push(socket);
  return socket;
}

describe("scrollback CLI on Redis Cluster", () => {
  it("lists the users of every master and counts them in stats, with both replicas on the fan-out", async () => {
    const masters = new Set(
      await Promise.all(
        USERS.map(async (user) => (await cluster.masterOf((await raw.cluster("KEYSLOT", `temp_memory:${user}:messages`)) as number)).port),
      ),
    );
    expect(masters.size).toBe(3); // the seeded users really are spread over the masters

    const users = await cli(["users", "--json"], env);
    expect(users.code).toBe(0);
    expect(users.json.users).toEqual(expect.arrayContaining(USERS));

    const stats = await cli(["stats", "--json"], env);
    expect(stats.code).toBe(0);
    expect(stats.json.redis.users).toBe(users.json.count);
    expect(stats.json.redis.messages).toBeGreaterThanOrEqual(USERS.length);
    expect(stats.json.redis.replicasListening).toBe(2);
  });

  it("shows a user's history", async () => {
    const shown = await cli(["show", USERS[7]!, "--json"], env);
    expect(shown.code).toBe(0);
    expect(shown.json.messages.map((message: { content: string }) => message.content)).toEqual(["seeded"]);
  });

  it("tails a user's messages and clears the history, telling the user's tabs", async () => {
    const run = startCli(["tail", "cluster_tail", "--json"], env);
    await run.stderr.waitFor(/tailing "cluster_tail"/);
    const tab = await socketOf("cluster_tail", 0);
    const otherTab = await socketOf("cluster_tail", 1);
    const ack = await requestOk(tab, "message:add", { content: "on the cluster" });
    expect(ack.ok).toBe(true);
    await run.stdout.waitFor(/on the cluster/);

    const cleared = [nextEvent(tab, "history:cleared"), nextEvent(otherTab, "history:cleared")];
    const result = await cli(["clear", "cluster_tail", "--json"], cluster.serverEnv);
    expect(result.json).toEqual({ userId: "cluster_tail", removed: 1, notified: true });
    await Promise.all(cleared);
    await run.stdout.waitFor(/history:cleared/);
    run.stop();
    expect(await run.code).toBe(0);
    expect(run.stdout.jsonLines()).toEqual([{ event: "message:new", message: ack.message }, { event: "history:cleared" }]);
  });

  it("tails, fans out and clears for user ids of every length, on whichever master owns each channel", async () => {
    for (const userId of userIdsOfEveryLength("cluster")) {
      const run = startCli(["tail", userId, "--json"], env);
      await run.stderr.waitFor(/tailing/);
      const tabs = [await socketOf(userId, 0), await socketOf(userId, 1)];
      const arrival = nextEvent(tabs[1]!, "message:new");
      const ack = await requestOk(tabs[0]!, "message:add", { content: `for ${userId}` });
      expect({ userId, arrived: await arrival }).toEqual({ userId, arrived: ack.message });
      await run.stdout.waitFor(/message:new/);
      const cleared = tabs.map((tab) => nextEvent(tab, "history:cleared"));
      expect((await cli(["clear", userId, "--json"], cluster.serverEnv)).json).toEqual({ userId, removed: 1, notified: true });
      await Promise.all(cleared);
      await run.stdout.waitFor(/history:cleared/);
      run.stop();
      expect(await run.code).toBe(0);
      for (const tab of tabs) tab.close();
    }
  });

  it("closes its sub client while the adapter's subscriptions are still on their way, leaving no rejection unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const sub = await connectRedis(loadConfig({ STORE: "redis", ...env }).redis, "sub");
      // As the adapter does in `clear`: an SSUBSCRIBE nobody awaits, then the client closed at once,
      // while the sharded subscriber for the channel's master is still connecting.
      sub.ssubscribe(userRoomChannel("temp_memory", "cluster_closing"));
      await closeRedis(sub);
      // Nothing to wait on when all is well: give a refused command time to surface.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
