/**
 * When Redis refuses a connection's room SSUBSCRIBE (here for real: the
 * replica's ACL user may not subscribe to that user's room channel), the
 * connection is refused UNAVAILABLE instead of being let in deaf to the other
 * replicas; the replica warns, counts it, and keeps serving. Once the ACL is
 * fixed, an SDK client that kept retrying by itself gets in and hears
 * another replica's message live.
 */
import { Writable } from "node:stream";
import { connect as connectClient, type ScrollbackClient } from "@scrollback/client";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { serverAclRule } from "../../dev/redis-acl.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { createApp, type ScrollbackApp } from "../../server/src/app.js";
import { loadConfig } from "../../server/src/config.js";
import { waitForStatus, watchTimeline } from "../sdk/sdk-helpers.js";
import { connect, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

const DEAF_USER = { username: "scrollback-deaf", password: "scrollback-deaf-test-pw" };
/** Starts with `d`: the ACL below leaves out the room channels of users whose id starts with `d`. */
const REFUSED_USER = "deaf_tab";

let redis: RedisServer;
let direct: TestServer;
let restricted: ScrollbackApp;
let restrictedUrl: string;
const logLines: { level: number; msg: string; userId?: string; err?: string }[] = [];
const sockets: TestSocket[] = [];
const clients: ScrollbackClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const admin = redis.client();
  // The replica's rule with the adapter's channels narrowed: its main and
  // response channels, every room channel but those of users starting with `d`.
  const rule = serverAclRule(DEAF_USER.password).replace(
    "&socket.io#/#*",
    "&socket.io#/# &socket.io#/#[^u]* &socket.io#/#user:{temp_memory:[^d]*",
  );
  await admin.call("ACL", "SETUSER", DEAF_USER.username, "reset", ...rule.split(" "));
  direct = await startServer({ STORE: "redis", REDIS_URL: redis.url });
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) logLines.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    RATE_LIMIT_PER_SECOND: "0",
    STORE: "redis",
    REDIS_URL: `redis://${DEAF_USER.username}:${DEAF_USER.password}@127.0.0.1:${redis.port}`,
  });
  restricted = await createApp(config, pino({ level: "warn" }, logs));
  restrictedUrl = `http://127.0.0.1:${await restricted.listen()}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  for (const client of clients) client.close();
  await Promise.all([direct.close(), restricted.close(1_000)]);
  await redis.stop();
});

async function refusalCount(): Promise<number> {
  const text = await (await fetch(`${restrictedUrl}/metrics`)).text();
  const line = text.split("\n").find((row) => row.startsWith("scrollback_room_subscription_failures_total "));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

it("refuses a connection UNAVAILABLE when Redis refuses its room subscription, warns and counts it", async () => {
  const refused = await connect(restrictedUrl, { userId: REFUSED_USER }).then(
    (socket) => {
      sockets.push(socket);
      return undefined;
    },
    (error: Error & { data?: { code?: string } }) => error,
  );
  expect(refused?.message).toBe("UNAVAILABLE");
  expect(refused?.data?.code).toBe("UNAVAILABLE");
  expect(await refusalCount()).toBe(1);
  const warning = logLines.find((line) => line.level === 40 && line.userId === REFUSED_USER);
  expect(warning?.msg).toMatch(/refused the room subscription/);
  expect(warning?.err).toMatch(/NOPERM/);

  // The replica is up and serves a user whose room it may subscribe to.
  expect((await fetch(`${restrictedUrl}/healthz`)).ok).toBe(true);
  const other = await connect(restrictedUrl, { userId: "heard_tab" });
  sockets.push(other);
  await requestOk(other, "history:load", {});
  expect(await refusalCount()).toBe(1);
});

it("an SDK client retries by itself and, once the ACL allows the channel, hears another replica live", async () => {
  const client = connectClient(restrictedUrl, { userId: REFUSED_USER, backoff: { initialMs: 100, maxMs: 300 } });
  clients.push(client);
  const before = await refusalCount();
  // Refused again and again while the ACL stands (waits on the counter, not a sleep).
  const deadline = Date.now() + 10_000;
  while ((await refusalCount()) < before + 2) {
    expect(Date.now()).toBeLessThan(deadline);
    expect(client.status).not.toBe("online");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  await redis.client().call("ACL", "SETUSER", DEAF_USER.username, "&socket.io#/#*");
  await waitForStatus(client, "online");
  const timeline = watchTimeline(client);
  const writer = await connect(direct.url, { userId: REFUSED_USER });
  sockets.push(writer);
  const sent = await requestOk(writer, "message:add", { content: "from the other replica" });
  await timeline.untilShown(1);
  expect(timeline.shown.map((message) => message.id)).toEqual([sent.message.id]);
});
