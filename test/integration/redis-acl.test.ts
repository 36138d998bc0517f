/**
 * Least privilege and a locked-down Redis (README "Operations", PROTOCOL.md
 * §2): the test Redis defines scrollback's users from dev/redis-acl.ts with
 * the default user off, and here also has CONFIG, KEYS, MONITOR, DEBUG,
 * FLUSHALL and FLUSHDB renamed away, as managed Redis services do. Two
 * replicas start, serve the core calls and fan out between them, and Redis
 * refused them nothing (its ACL LOG stays empty).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis, TEST_REDIS_USERS } from "../../dev/redis-server.js";
import { connect, nextEvent, requestOk, type TestSocket } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { waitReady } from "../support/wait.js";

const RENAMED_AWAY = ["CONFIG", "KEYS", "MONITOR", "DEBUG", "FLUSHALL", "FLUSHDB"];
const TOKEN = "acl-service-token";

let redis: RedisServer;
let replicas: TestServer[];
const sockets: TestSocket[] = [];
const clients: Redis[] = [];

async function open(replica: number, userId: string): Promise<TestSocket> {
  const socket = await connect(replicas[replica]!.url, { userId });
  sockets.push(socket);
  return socket;
}

function clientAs(user: { username: string; password: string } | undefined): Redis {
  const client = new Redis({
    port: redis.port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    ...user,
  });
  client.on("error", () => {});
  clients.push(client);
  return client;
}

beforeAll(async () => {
  redis = await startRedis({ args: RENAMED_AWAY.flatMap((command) => ["--rename-command", command, ""]) });
  replicas = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: TOKEN });
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const client of clients) client.disconnect();
  await Promise.all((replicas ?? []).map((replica) => replica.close()));
  // Rejects if Redis refused the scrollback users anything (ACL LOG).
  await redis?.stop();
});

describe("under the least-privilege user, on a Redis without CONFIG, KEYS, MONITOR, DEBUG, FLUSH*", () => {
  it("the commands really are gone, and the default user is off", async () => {
    const admin = redis.client();
    for (const command of RENAMED_AWAY) await expect(admin.call(command, "x")).rejects.toThrow(/unknown command/i);
    const anonymous = clientAs(undefined);
    await anonymous.connect();
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH|WRONGPASS|disabled/i);
  });

  it("starts ready, and serves add, load, search and clear over Socket.IO and HTTP, fanned out across replicas", async () => {
    for (const replica of replicas) expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
    const writer = await open(0, "acl_alice");
    const reader = await open(1, "acl_alice");
    const arrival = nextEvent(reader, "message:new");
    const added = await requestOk(writer, "message:add", { id: "acl-1", content: "least privilege" });
    expect((await arrival).id).toBe(added.message.id);
    expect(await requestOk(writer, "message:add", { id: "acl-1", content: "least privilege" })).toMatchObject({ duplicate: true });

    const posted = await fetch(`${replicas[1]!.url}/api/v1/users/acl_alice/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ role: "assistant", content: "a reply", id: "acl-2" }),
    });
    expect(posted.status).toBe(201);

    const loaded = await requestOk(reader, "history:load", {});
    expect(loaded.messages.map((message) => message.id)).toEqual(["acl-1", "acl-2"]);
    const found = await requestOk(reader, "history:search", { query: "reply" });
    expect(found.messages.map((message) => message.id)).toEqual(["acl-2"]);

    const cleared = nextEvent(writer, "history:cleared");
    expect(await requestOk(reader, "history:clear", {})).toMatchObject({ removed: 2 });
    await cleared;
    expect(await redis.aclRefusals()).toEqual([]);
  });

  it("refuses the server's user anything outside its rule, and the CLI's user any write", async () => {
    const server = clientAs(TEST_REDIS_USERS.server);
    await expect(server.call("SCAN", "0")).rejects.toThrow(/NOPERM/);
    await expect(server.lset("temp_memory:acl_bob:messages", 0, "x")).rejects.toThrow(/NOPERM/);
    await expect(server.rpush("other_prefix:acl_bob:messages", "x")).rejects.toThrow(/NOPERM/);
    await expect(server.call("SCRIPT", "FLUSH")).rejects.toThrow(/NOPERM/);
    await expect(server.publish("socket.io#/#", "x")).rejects.toThrow(/NOPERM/);
    await expect(server.spublish("elsewhere", "x")).rejects.toThrow(/NOPERM/);
    const cli = clientAs(TEST_REDIS_USERS.cli);
    expect(await cli.llen("temp_memory:acl_bob:messages")).toBe(0);
    await expect(cli.rpush("temp_memory:acl_bob:messages", "x")).rejects.toThrow(/NOPERM/);
    await expect(cli.del("temp_memory:acl_bob:messages")).rejects.toThrow(/NOPERM/);
    await expect(cli.spublish("socket.io#/#user:{temp_memory:acl_bob:messages}#", "x")).rejects.toThrow(/NOPERM/);

    // The fixture's check sees them, and would fail the suite at stop().
    const refusals = await redis.aclRefusals();
    expect(refusals.some((line) => line.startsWith("scrollback: command scan"))).toBe(true);
    expect(refusals.some((line) => line.startsWith("scrollback-cli: command rpush"))).toBe(true);
    await redis.client().call("ACL", "LOG", "RESET");
  });
});

describe("credentials given beside REDIS_URL", () => {
  it("REDIS_USERNAME / REDIS_PASSWORD apply to a REDIS_URL without credentials (else the server would be the default user, or refused)", async () => {
    const { username, password } = TEST_REDIS_USERS.server;
    const [replica] = await startReplicas(1, {
      STORE: "redis",
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      REDIS_USERNAME: username,
      REDIS_PASSWORD: password,
    });
    try {
      await waitReady(replica!.url, 10_000);
      const socket = await connect(replica!.url, { userId: "url_plus_user" });
      sockets.push(socket);
      await requestOk(socket, "message:add", { id: "beside-url-1", content: "stored as scrollback" });
      expect(await redis.client().llen("temp_memory:url_plus_user:messages")).toBe(1);
    } finally {
      await replica!.close();
    }
  });
});
