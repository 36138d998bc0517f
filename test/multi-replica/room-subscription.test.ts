/**
 * A connection's room subscription is in Redis before the client hears it is
 * connected (room-subscription.ts): with the replica's subscriber link slow
 * (its SSUBSCRIBEs held back), a message another replica publishes the
 * moment the tab is connected still reaches it.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { startTcpProxy, type TcpProxy } from "../chaos/tcp-proxy.js";
import { connect, nextEvent, requestOk, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

const SUBSCRIBE_DELAY_MS = 400;
let redis: RedisServer;
let proxy: TcpProxy;
let slow: TestServer;
let direct: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startTcpProxy(redis);
  slow = await startServer({ STORE: "redis", REDIS_URL: proxy.url });
  direct = await startServer({ STORE: "redis", REDIS_URL: redis.url });
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all([slow.close(), direct.close()]);
  await proxy.close();
  await redis.stop();
});

it("a tab hears a message another replica adds right after it connected, though its replica subscribes slowly", async () => {
  const writer = await connect(direct.url, { userId: "slow_subscribe" });
  sockets.push(writer);
  proxy.delaySubscribers(SUBSCRIBE_DELAY_MS);
  try {
    for (let round = 0; round < 3; round++) {
      // A fresh room each round on the slow replica: its subscription is new.
      const started = Date.now();
      const tab = await connect(slow.url, { userId: "slow_subscribe" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(SUBSCRIBE_DELAY_MS - 50);
      const arrival = nextEvent(tab, "message:new", 3_000);
      const sent = await requestOk(writer, "message:add", { content: `right after connect ${round}` });
      expect((await arrival).id).toBe(sent.message.id);
      const left = nextEvent(tab, "disconnect");
      tab.close();
      await left;
    }
  } finally {
    proxy.delaySubscribers(0);
  }
});
