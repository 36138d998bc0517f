/**
 * A suite's fixture for a Redis of several processes (a Cluster, a master
 * with Sentinels): the deployment, started before the suite; scrollback
 * replicas that tests start on it; and the sockets opened to them. All are
 * stopped after the suite: sockets, then replicas, then the deployment.
 */
import { afterAll, beforeAll } from "vitest";
import { connect, type TestSocket } from "./clients.js";
import { startReplicas, type TestServer } from "./servers.js";
import { suiteValue } from "./suite-value.js";
import { waitReady } from "./wait.js";

/** What the fixture needs of a deployment: the settings a replica reaches it with, and a stop. */
export interface RedisDeployment {
  serverEnv: Record<string, string>;
  stop(): Promise<void>;
}

export interface ReplicasOnDeployment<D extends RedisDeployment> {
  /** The deployment (set once the suite started). */
  readonly deployment: D;
  /**
   * Starts `count` replicas with `STORE=redis`, the deployment's `serverEnv`,
   * the suite's settings and then `env`, and waits until they are ready.
   */
  startReplicas(count: number, env?: Record<string, string>): Promise<TestServer[]>;
  /** A dev-mode connection of `userId` to `server`, closed after the suite. */
  open(server: TestServer, userId: string): Promise<TestSocket>;
}

/** `suiteEnv` is read when replicas start (so it may name files made before the suite). */
export function useReplicasOnDeployment<D extends RedisDeployment>(
  startDeployment: () => Promise<D>,
  suiteEnv: () => Record<string, string> = () => ({}),
): ReplicasOnDeployment<D> {
  let deployment: D | undefined;
  const servers: TestServer[] = [];
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    deployment = await startDeployment();
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(servers.map((server) => server.close()));
    await deployment?.stop();
  });
  const started = (): D => suiteValue(deployment, "Redis deployment");
  return {
    get deployment() {
      return started();
    },
    async startReplicas(count, env = {}) {
      const replicas = await startReplicas(count, { STORE: "redis", ...started().serverEnv, ...suiteEnv(), ...env });
      servers.push(...replicas);
      await Promise.all(replicas.map((server) => waitReady(server.url)));
      return replicas;
    },
    async open(server, userId) {
      const socket = await connect(server.url, { userId });
      sockets.push(socket);
      return socket;
    },
  };
}
