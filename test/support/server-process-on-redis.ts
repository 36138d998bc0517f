/**
 * A suite's fixture: one scrollback server as a child process (spawnServer:
 * its own heap and event loop, signals) on a throwaway redis-server, with a
 * connection open for each of `userIds` (opened one after another), all
 * started before the suite and stopped after it.
 */
import { afterAll, beforeAll } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, type TestSocket } from "./clients.js";
import { type ServerProcess, spawnServer } from "./servers.js";
import { suiteValue } from "./suite-value.js";

export interface ServerProcessOnRedis {
  readonly redis: RedisServer;
  readonly server: ServerProcess;
  /** The connections of `userIds`, in that order. */
  readonly sockets: TestSocket[];
}

/** `env` is added to `STORE=redis` and the Redis's `REDIS_URL`. */
export function useServerProcessOnRedis(env: Record<string, string>, userIds: string[]): ServerProcessOnRedis {
  let redis: RedisServer | undefined;
  let server: ServerProcess | undefined;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    server = await spawnServer({ STORE: "redis", REDIS_URL: redis.url, ...env });
    for (const userId of userIds) sockets.push(await connect(server.url, { userId }));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await server?.stop();
    await redis?.stop();
  });
  return {
    get redis() {
      return suiteValue(redis, "Redis");
    },
    get server() {
      return suiteValue(server, "server");
    },
    sockets,
  };
}
