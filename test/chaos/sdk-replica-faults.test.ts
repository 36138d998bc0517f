/**
 * Replicas failing under the SDK's load: 30 users, each a
 * `@scrollback/client` given all three replicas (in a rotated order, so the
 * load is spread), add messages steadily. One replica is SIGKILLed, or sent
 * SIGTERM, mid-stream. Every add resolves, and every user's history holds
 * exactly the ids it sent, each once, in order: nothing acked is lost, the
 * resends of unacknowledged messages are never stored twice.
 */
import { connect, type ScrollbackClient } from "@scrollback/client";
import { afterEach, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { waitForStatus } from "../sdk/sdk-helpers.js";
import { type ServerProcess, spawnServer } from "../support/servers.js";
import { idsOf } from "../support/workload.js";
import { metric } from "./probes.js";

const USERS = 30;
const MESSAGES_PER_USER = 60;
/** Between one add and the next of a user (sent without waiting for the ack). */
const SEND_INTERVAL_MS = 25;

let redis: RedisServer | undefined;
let replicas: ServerProcess[] = [];
let clients: ScrollbackClient[] = [];

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  await Promise.all(replicas.map((replica) => replica.stop()));
  replicas = [];
  await redis?.stop();
  redis = undefined;
});

async function setUp(): Promise<void> {
  redis = await startRedis({ appendOnly: true });
  const env = { STORE: "redis", REDIS_URL: redis.url, HISTORY_MAX: "1000" };
  replicas = await Promise.all([spawnServer(env), spawnServer(env), spawnServer(env)]);
}

/** One client per user; user i starts on replica i % 3. */
async function openClients(label: string): Promise<{ userId: string; client: ScrollbackClient }[]> {
  const urls = replicas.map((replica) => replica.url);
  const sessions = Array.from({ length: USERS }, (_, i) => {
    const userId = `${label}_${i}`;
    const order = [...urls.slice(i % 3), ...urls.slice(0, i % 3)];
    const client = connect(order, { userId, ackTimeoutMs: 3_000, backoff: { initialMs: 100, maxMs: 1_000 }, catchUp: false });
    clients.push(client);
    return { userId, client };
  });
  await Promise.all(sessions.map(({ client }) => waitForStatus(client, "online")));
  // A third of the users on each replica: the one that fails has clients mid-stream.
  for (const replica of replicas) expect(await metric(replica.url, "scrollback_connections")).toBe(USERS / 3);
  return sessions;
}

/** Every user sends its messages steadily; `midway` runs once a third of them are acked. Resolves when all are acked. */
async function sendAll(sessions: { userId: string; client: ScrollbackClient }[], label: string, midway: () => Promise<void>) {
  let acked = 0;
  let slowestMs = 0;
  let fault: Promise<void> | undefined;
  const third = (USERS * MESSAGES_PER_USER) / 3;
  const sends = sessions.flatMap(({ client }, u) =>
    Array.from({ length: MESSAGES_PER_USER }, async (_, n) => {
      await new Promise((resolve) => setTimeout(resolve, n * SEND_INTERVAL_MS));
      const started = Date.now();
      const message = await client.add(
        { id: `${label}-${u}-${String(n).padStart(3, "0")}`, content: `message ${n}` },
        { timeoutMs: 60_000 },
      );
      slowestMs = Math.max(slowestMs, Date.now() - started);
      if (++acked === third) fault = midway();
      return message;
    }),
  );
  const stored = await Promise.all(sends);
  await fault;
  return { acked: stored.length, slowestMs };
}

/** Each user's stored ids must be exactly what it sent, once each, in order. */
async function expectExactlyOnce(sessions: { userId: string }[], label: string): Promise<void> {
  for (const [u, { userId }] of sessions.entries()) {
    const stored = idsOf(await redis!.client().lrange(`temp_memory:${userId}:messages`, 0, -1));
    expect(stored).toEqual(Array.from({ length: MESSAGES_PER_USER }, (_, n) => `${label}-${u}-${String(n).padStart(3, "0")}`));
  }
}

describe("a replica SIGKILLed while its clients are sending", () => {
  it("its clients move to the other replicas and resend; every id is stored exactly once, in order", async () => {
    await setUp();
    const sessions = await openClients("sdkkill");
    const victim = replicas[0]!;
    let killedAt = 0;
    const { acked, slowestMs } = await sendAll(sessions, "sdkkill", async () => {
      killedAt = Date.now();
      victim.process.kill("SIGKILL");
      await victim.exited;
    });
    await expectExactlyOnce(sessions, "sdkkill");
    console.info(
      `[replica SIGKILL under SDK load] users=${USERS} acked=${acked} lost=0 duplicates=0 slowest add=${slowestMs}ms (killed ${Date.now() - killedAt}ms before the last ack)`,
    );
  }, 120_000);
});

describe("a replica sent SIGTERM under load", () => {
  it("drains gracefully (exit 0, every in-flight add answered), its clients move on; every id is stored exactly once", async () => {
    await setUp();
    const sessions = await openClients("sdkterm");
    const victim = replicas[0]!;
    let exitCode: number | string | undefined;
    const { acked, slowestMs } = await sendAll(sessions, "sdkterm", async () => {
      victim.process.kill("SIGTERM");
      exitCode = await victim.exited;
    });
    expect(exitCode).toBe(0);
    await expectExactlyOnce(sessions, "sdkterm");
    console.info(
      `[replica SIGTERM under SDK load] users=${USERS} acked=${acked} lost=0 duplicates=0 slowest add=${slowestMs}ms exit=${exitCode}`,
    );
  }, 120_000);
});
