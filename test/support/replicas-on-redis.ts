/**
 * A suite's fixture: `count` replicas sharing one throwaway redis-server,
 * started before the suite and stopped after it, with every socket opened
 * through `open` closed at the end.
 */
import { afterAll, beforeAll } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, type TestSocket } from "./clients.js";
import { startReplicas, type TestServer } from "./servers.js";
import { suiteValue } from "./suite-value.js";

export interface ReplicasOnRedis {
  /** The shared Redis (set once the suite started). */
  readonly redis: RedisServer;
  readonly replicas: TestServer[];
  /** A dev-mode connection of `userId` to replica `replica`, closed after the suite. */
  open(userId: string, replica: number): Promise<TestSocket>;
}

export function useReplicasOnRedis(count: number, env: Record<string, string> = {}): ReplicasOnRedis {
  let redis: RedisServer | undefined;
  let replicas: TestServer[] = [];
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    replicas = await startReplicas(count, { STORE: "redis", REDIS_URL: redis.url, ...env });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(replicas.map((replica) => replica.close()));
    await redis?.stop();
  });
  return {
    get redis() {
      return suiteValue(redis, "Redis");
    },
    get replicas() {
      return replicas;
    },
    async open(userId, replica) {
      const server = replicas[replica];
      if (!server) throw new Error(`no replica ${replica}`);
      const socket = await connect(server.url, { userId });
      sockets.push(socket);
      return socket;
    },
  };
}
