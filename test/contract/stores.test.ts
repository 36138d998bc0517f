import { afterAll, beforeAll } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { MemoryStore } from "../../server/src/store/memory-store.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { RedisStore } from "../../server/src/store/redis-store.js";
import { describeStoreContract } from "./store-contract.js";

describeStoreContract("MemoryStore", async (settings) => {
  let skipped = 0;
  const store = new MemoryStore({ ...settings, onSkippedElements: (n) => (skipped += n) });
  return {
    store,
    // One process: the "other replica" is the same store.
    twin: store,
    writeForeign: async (userId, element) => store.appendRaw(userId, element),
    skipped: () => skipped,
    close: () => store.close(),
  };
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describeStoreContract("RedisStore", async (settings) => {
  let skipped = 0;
  const keyPrefix = "temp_memory";
  const clients = [redis.client(), redis.client(), redis.client()];
  const [one, two, foreign] = clients as [
    ReturnType<RedisServer["client"]>,
    ReturnType<RedisServer["client"]>,
    ReturnType<RedisServer["client"]>,
  ];
  const options = { ...settings, keyPrefix, onSkippedElements: (n: number) => (skipped += n) };
  return {
    store: new RedisStore({ ...options, client: one }),
    twin: new RedisStore({ ...options, client: two }),
    writeForeign: async (userId, element) => {
      // Exactly what the original Python app did.
      const key = messagesKey(keyPrefix, userId);
      await foreign.rpush(key, element);
      await foreign.ltrim(key, -settings.historyMax, -1);
      await foreign.expire(key, settings.historyTtlSeconds);
    },
    skipped: () => skipped,
    close: async () => {
      for (const client of clients) client.disconnect();
    },
  };
});
