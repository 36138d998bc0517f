/**
 * Replica failures (issue 3): a client given several replicas moves to another
 * one when its replica freezes, dies or restarts, and resends what was not
 * acknowledged, with the same id, so each message is stored exactly once.
 */
import { connect, type ScrollbackClient } from "@scrollback/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { type ServerProcess, spawnServer, startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";
import { ids, waitForStatus } from "./sdk-helpers.js";

let redis: RedisServer;
let env: Record<string, string>;
/** Replica A runs as a child process so it can be frozen and killed. */
let a: ServerProcess;
let b: TestServer;
let client: ScrollbackClient | undefined;

beforeEach(async () => {
  redis = await startRedis();
  env = { STORE: "redis", REDIS_URL: redis.url, HISTORY_MAX: "100" };
  [a, b] = await Promise.all([spawnServer(env), startServer(env)]);
});
afterEach(async () => {
  client?.close();
  a.process.kill("SIGCONT");
  await Promise.all([a.stop(), b.close()]);
  await redis.stop();
});

const stored = async (userId: string) =>
  ids((await redis.client().lrange(`temp_memory:${userId}:messages`, 0, -1)).map((raw) => JSON.parse(raw) as { id: string }));
const connections = async (url: string) =>
  Number(/^scrollback_connections (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);

function open(userId: string): ScrollbackClient {
  client = connect([a.url, b.url], { userId, ackTimeoutMs: 2_500, backoff: { initialMs: 100, maxMs: 500 } });
  return client;
}

/** Lets the client's microtasks run, so an emitted packet has been written to the socket. */
const written = () => new Promise((resolve) => setImmediate(resolve));

describe("a replica that froze (SIGSTOP) and then died (SIGKILL)", () => {
  it("resends the message it swallowed to another replica, stored once", async () => {
    const user = "stop_kill_user";
    const session = open(user);
    await waitForStatus(session, "online");
    expect(await connections(a.url)).toBe(1);

    a.process.kill("SIGSTOP");
    const add = session.add({ id: "swallowed", content: "sent into a frozen replica" });
    await written();
    expect(await stored(user)).toEqual([]); // the packet left the client and was never read
    a.process.kill("SIGKILL");

    expect((await add).id).toBe("swallowed");
    expect(await stored(user)).toEqual(["swallowed"]);
    expect(await connections(b.url)).toBe(1);
  });
});

describe("a replica that froze and stays frozen", () => {
  it("gives up on it after the ack timeout, stores the message through another replica, and the late original changes nothing", async () => {
    const user = "frozen_replica_user";
    const session = open(user);
    await waitForStatus(session, "online");
    a.process.kill("SIGSTOP");
    const started = Date.now();
    await session.add({ id: "late", content: "the frozen replica has a copy" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
    expect(await connections(b.url)).toBe(1);

    // Thawed, A may still read the old packet: the id would make it a duplicate.
    a.process.kill("SIGCONT");
    await until("the thawed replica answers", async () => (await fetch(`${a.url}/readyz`)).ok, 15_000);
    expect(await session.add({ id: "after-thaw", content: "still on B" })).toMatchObject({ id: "after-thaw" });
    expect(await stored(user)).toEqual(["late", "after-thaw"]);
  });
});

describe("a replica restart (SIGTERM, then started again)", () => {
  it("moves to the other replica mid-stream and stores every message once, in order", async () => {
    const user = "restart_user";
    const session = open(user);
    await waitForStatus(session, "online");
    const wanted = Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, "0")}`);
    const adds = wanted.map((id) => session.add({ id, content: id }));
    await adds[5];
    a.process.kill("SIGTERM");
    expect(ids(await Promise.all(adds))).toEqual(wanted);
    expect(await a.exited).toBe(0);
    expect(await stored(user)).toEqual(wanted);

    // A comes back on the same port; when B goes, the client returns to A.
    a = await spawnServer({ ...env, PORT: String(a.port) });
    await b.close();
    await waitForStatus(session, "offline");
    await waitForStatus(session, "online");
    expect((await session.add({ id: "back-on-a", content: "after the restart" })).id).toBe("back-on-a");
    expect(await connections(a.url)).toBe(1);
    expect((await stored(user)).at(-1)).toBe("back-on-a");
  });
});
