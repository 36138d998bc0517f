/**
 * A Sentinel client that ioredis ended in the middle of a reconnect (a
 * `+switch-master` aborting the question to the Sentinels) and that
 * redis-connections.ts connects again: what it keeps across that end, and
 * that the settings an operator gets wrong never make such ends loop.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { loadConfig } from "../../server/src/config.js";
import { userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import {
  closeRedisClient,
  createRedisClient,
  handleSubscriptionFailures,
  type SubscriptionFailure,
} from "../../server/src/redis-connections.js";
import { type RedisSentinel, startRedisSentinel } from "../support/redis-sentinel.js";
import { until } from "../support/wait.js";

let deployment: RedisSentinel;
beforeAll(async () => {
  deployment = await startRedisSentinel();
}, 60_000);
afterAll(async () => {
  await deployment?.stop();
});

const targetFor = (env: Record<string, string>) => loadConfig({ STORE: "redis", ...env }).redis;

/** Aborts the client's next reconnect while it asks the Sentinels, as the failover detector does on +switch-master. */
function abortNextReconnect(client: Redis, whileConnecting: () => void = () => {}): Promise<void> {
  const aborted = new Promise<void>((resolve) =>
    client.once("connecting", () => {
      whileConnecting();
      (client as unknown as { connector: { disconnect(): void } }).connector.disconnect();
      resolve();
    }),
  );
  client.disconnect(true);
  return aborted;
}

/** How many subscribers Redis has on `channel` (SPUBLISH answers that). */
async function subscribers(channel: string): Promise<number> {
  const master = (await deployment.master()).client();
  return Number(await master.call("SPUBLISH", channel, "probe"));
}

describe("a Sentinel sub client ended mid-reconnect and connected again", () => {
  it("keeps the (un)subscriptions the adapter asked for while it was reconnecting", async () => {
    const sub = createRedisClient(targetFor(deployment.serverEnv), "sub") as Redis;
    sub.on("error", () => {});
    const failures: SubscriptionFailure[] = [];
    handleSubscriptionFailures(sub, (failure) => failures.push(failure));
    const left = userRoomChannel("temp_memory", "gap_left");
    const joined = userRoomChannel("temp_memory", "gap_joined");
    try {
      await until("the sub client is ready", () => sub.status === "ready", 10_000);
      await sub.ssubscribe(left);
      // While it reconnects, one user's last tab here goes and another's first arrives:
      // the adapter queues SUNSUBSCRIBE and SSUBSCRIBE (the sub client keeps an offline queue).
      await abortNextReconnect(sub, () => {
        void sub.sunsubscribe(left);
        void sub.ssubscribe(joined);
      });
      await until("the sub client is ready again", () => sub.status === "ready", 10_000);
      // As after any other reconnect: Redis has the new room's subscription, not the old one's.
      // The queued commands go out once it is ready; give their replies a moment.
      await until(
        "the queued (un)subscriptions took effect",
        async () => (await subscribers(joined)) === 1 && (await subscribers(left)) === 0,
        3_000,
      ).catch(() => {});
      expect({ joined: await subscribers(joined), left: await subscribers(left), failures }).toEqual({ joined: 1, left: 0, failures: [] });
    } finally {
      await closeRedisClient(sub);
    }
  });

  it("stays closed when closed in the moment after the abort, before it connects again", async () => {
    const client = createRedisClient(targetFor(deployment.serverEnv), "data") as Redis;
    client.on("error", () => {});
    const statuses: string[] = [];
    try {
      await until("the client is ready", () => client.status === "ready", 10_000);
      await abortNextReconnect(client);
      // Inside the 100 ms before it would connect again.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await closeRedisClient(client);
      for (const status of ["connecting", "connect", "ready"]) client.on(status, () => statuses.push(status));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect({ status: client.status, statuses }).toEqual({ status: "end", statuses: [] });
    } finally {
      client.disconnect();
    }
  });
});

describe("a Sentinel client with settings that never work", () => {
  it("keeps retrying with its backoff and never ends (no connect loop behind the retry strategy's back)", async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const cases: Record<string, Record<string, string>> = {
      "no Sentinel answers": { ...deployment.serverEnv, REDIS_SENTINELS: nowhere },
      // A user the Sentinels do not know: a refused AUTH of `scrollback` would fail the fixture's ACL LOG check.
      "wrong credentials": { ...deployment.serverEnv, REDIS_USERNAME: "not-a-user", REDIS_PASSWORD: "not-the-password" },
      "an unknown master name": { ...deployment.serverEnv, REDIS_SENTINEL_NAME: "no-such-master" },
    };
    const ends: Record<string, number> = {};
    const clients = Object.entries(cases).map(([name, env]) => {
      const client = createRedisClient(targetFor(env), "data") as Redis;
      client.on("error", () => {});
      ends[name] = 0;
      client.on("end", () => {
        ends[name] = (ends[name] ?? 0) + 1;
      });
      return client;
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(ends).toEqual(Object.fromEntries(Object.keys(cases).map((name) => [name, 0])));
    } finally {
      await Promise.all(clients.map((client) => closeRedisClient(client)));
    }
  });
});
