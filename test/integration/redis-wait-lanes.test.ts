/**
 * `REDIS_WAIT_REPLICAS` with a wait connection that is down and cannot come
 * back (PROTOCOL.md §4, `message:add`): a real master and an in-sync
 * replica. A lane that is down refuses at once, so it looks idle; adds must
 * go to the connected lanes instead of all failing on that one.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, request, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

let master: RedisServer;
let replica: RedisServer;
let inspector: Redis;
let server: TestServer;
let writer: TestSocket;

/** The ids of the server's connected wait connections, by their CLIENT SETNAME. */
async function waitConnectionIds(): Promise<string[]> {
  const list = (await inspector.client("LIST")) as string;
  return list
    .split("\n")
    .filter((line) => line.includes("name=scrollback:wait"))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] ?? "");
}

beforeAll(async () => {
  master = await startRedis();
  replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
  const replicaClient = replica.client();
  await until("the replica is in sync", async () => (await replicaClient.info("replication")).includes("master_link_status:up"), 10_000);
  inspector = master.client();
  server = await startServer({ STORE: "redis", REDIS_URL: master.url, REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: "1000" });
  writer = await connect(server.url, { userId: "lanes_writer" });
  expect(await request(writer, "message:add", { content: "replicated" })).toMatchObject({ ok: true });
});

afterAll(async () => {
  writer?.close();
  await inspector?.config("SET", "maxclients", "10000").catch(() => undefined);
  await server?.close();
  inspector?.disconnect();
  await replica?.stop();
  await master?.stop();
});

describe("with REDIS_WAIT_REPLICAS=1 and one wait connection that cannot reconnect", () => {
  it("sends every add over the connected wait connections, and each is acked", async () => {
    await until("the four wait connections are up", async () => (await waitConnectionIds()).length === 4, 10_000);
    const [victim] = await waitConnectionIds();
    // Kill it and, before its reconnect (100 ms later), leave Redis no room for it.
    await inspector.client("KILL", "ID", victim!);
    const connected = /connected_clients:(\d+)/.exec(await inspector.info("clients"))?.[1];
    await inspector.config("SET", "maxclients", connected!);
    // Its reconnects are refused ("max number of clients reached"): it stays down.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await waitConnectionIds()).toHaveLength(3);

    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await request(writer, "message:add", { content: `lane ${i}` }));
    expect(answers.filter((answer) => answer.ok)).toHaveLength(20);
  });
});
