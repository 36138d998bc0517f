/**
 * A real Redis Cluster on loopback for one test file: `masters` masters with
 * `replicasPerMaster` replicas each, every node a `redis-server
 * --cluster-enabled yes` on a free port in its own temp dir, joined with
 * `redis-cli --cluster create`. Node timeouts are short so that a killed
 * master is failed over within a few seconds. Every node has the test users
 * of dev/redis-server.ts (the default user off): the servers under test
 * connect as the least-privilege `scrollback` user (`serverEnv`), the
 * fixture and the assertions as `admin`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import { clientTlsOptions, type RedisServer, startRedis, TEST_REDIS_USERS } from "../../dev/redis-server.js";
import type { TestCertificates } from "../../dev/test-certificates.js";
import { until } from "./wait.js";

const run = promisify(execFile);

/** How long a node may be silent before the cluster counts it as failing. */
export const CLUSTER_NODE_TIMEOUT_MS = 1_000;

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** `cluster-node-timeout`; longer keeps a frozen master from being counted as failing. Default CLUSTER_NODE_TIMEOUT_MS. */
  nodeTimeoutMs?: number;
  /** TLS only: clients, the cluster bus and replication over TLS with these certificates (client certificates required). */
  tls?: TestCertificates;
}

/** One line of `CLUSTER NODES`, as far as the tests need it. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: "master" | "replica";
  /** Ids of the master this replica follows. */
  masterId?: string;
  failed: boolean;
  /** Slot ranges a master serves, e.g. [[0, 5460]]. */
  slots: [number, number][];
}

export interface RedisCluster {
  /** Every node, masters and replicas, in start order. */
  nodes: RedisServer[];
  /** `REDIS_CLUSTER_NODES` for the server: every node's host:port. */
  nodesEnv: string;
  /** The server's settings for this cluster: `REDIS_CLUSTER_NODES` and the `scrollback` user's credentials. */
  serverEnv: Record<string, string>;
  /** The same for the CLI's read commands, as the read-only `scrollback-cli` user. */
  cliEnv: Record<string, string>;
  /** The cluster as one node sees it (the first live node). */
  topology(): Promise<ClusterNodeInfo[]>;
  /** The running node serving as master of `slot`. */
  masterOf(slot: number): Promise<RedisServer>;
  /** An ioredis Cluster client for assertions (closed by `stop`). */
  client(): Cluster;
  /** Resolves once every slot is served by a live master and every node says `cluster_state:ok`. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGKILLs `node` and waits until a replica has taken over its slots. */
  killAndFailover(node: RedisServer, timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their dirs. */
  stop(): Promise<void>;
}

function parseNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const [id, address, flags, master, , , , , ...slotFields] = line.split(" ");
      const port = Number(/:(\d+)@/.exec(address ?? "")?.[1]);
      const flagSet = new Set((flags ?? "").split(","));
      const slots = slotFields
        .filter((field) => /^\d+(-\d+)?$/.test(field))
        .map((field) => {
          const [from, to] = field.split("-").map(Number);
          return [from!, to ?? from!] as [number, number];
        });
      return {
        id: id!,
        port,
        role: flagSet.has("master") ? "master" : "replica",
        ...(master && master !== "-" ? { masterId: master } : {}),
        failed: flagSet.has("fail") || flagSet.has("fail?") || flagSet.has("noaddr"),
        slots,
      } satisfies ClusterNodeInfo;
    });
}

function isRunning(node: RedisServer): boolean {
  return node.process.exitCode === null && node.process.signalCode === null;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const args = [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    String(options.nodeTimeoutMs ?? CLUSTER_NODE_TIMEOUT_MS),
    // Let any replica take over, however long it was cut off.
    "--cluster-replica-validity-factor",
    "0",
    ...(options.tls ? ["--tls-cluster", "yes", "--tls-replication", "yes"] : []),
  ];
  const tls = options.tls && { certificates: options.tls };
  const tlsOptions = options.tls && clientTlsOptions(options.tls);
  const nodes = await Promise.all(Array.from({ length: masters * (1 + replicasPerMaster) }, () => startRedis({ args, tls })));
  const clients: (Redis | Cluster)[] = [];

  const adminUser = TEST_REDIS_USERS.admin;
  const admin = (node: RedisServer): Redis => {
    const client = new Redis({
      port: node.port,
      host: "127.0.0.1",
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
      tls: tlsOptions,
      ...adminUser,
    });
    client.on("error", () => {});
    return client;
  };
  const ask = async <T>(node: RedisServer, command: (client: Redis) => Promise<T>): Promise<T> => {
    const client = admin(node);
    try {
      await client.connect();
      return await command(client);
    } finally {
      client.disconnect();
    }
  };

  try {
    const cliTls = options.tls
      ? ["--tls", "--cacert", options.tls.caFile, "--cert", options.tls.clientCertFile, "--key", options.tls.clientKeyFile]
      : [];
    await run("redis-cli", [
      ...cliTls,
      "--cluster",
      "create",
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      "--cluster-replicas",
      String(replicasPerMaster),
      "--cluster-yes",
      "--user",
      adminUser.username,
      "--pass",
      adminUser.password,
      "--no-auth-warning",
    ]);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }

  const nodesEnv = nodes.map((node) => `127.0.0.1:${node.port}`).join(",");
  const cluster: RedisCluster = {
    nodes,
    nodesEnv,
    serverEnv: {
      REDIS_CLUSTER_NODES: nodesEnv,
      REDIS_USERNAME: TEST_REDIS_USERS.server.username,
      REDIS_PASSWORD: TEST_REDIS_USERS.server.password,
    },
    cliEnv: { REDIS_CLUSTER_NODES: nodesEnv, REDIS_USERNAME: TEST_REDIS_USERS.cli.username, REDIS_PASSWORD: TEST_REDIS_USERS.cli.password },
    async topology() {
      const live = nodes.find(isRunning);
      if (!live) throw new Error("no cluster node is running");
      return parseNodes(await ask(live, (client) => client.call("CLUSTER", "NODES") as Promise<string>));
    },
    async masterOf(slot) {
      const owner = (await cluster.topology()).find(
        (node) => node.role === "master" && !node.failed && node.slots.some(([from, to]) => slot >= from && slot <= to),
      );
      const server = nodes.find((node) => node.port === owner?.port);
      if (!server) throw new Error(`no live master serves slot ${slot}`);
      return server;
    },
    client() {
      const client = new Cluster(
        nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
        {
          redisOptions: { maxRetriesPerRequest: 1, tls: tlsOptions, ...adminUser },
        },
      );
      client.on("error", () => {});
      clients.push(client);
      return client;
    },
    async waitHealthy(timeoutMs = 30_000) {
      await until(
        "every slot served and every node in cluster_state:ok",
        async () => {
          const running = nodes.filter(isRunning);
          for (const node of running) {
            const info = await ask(node, (client) => client.call("CLUSTER", "INFO") as Promise<string>);
            if (!info.includes("cluster_state:ok")) return false;
          }
          const topology = await cluster.topology();
          const livePorts = new Set(running.map((node) => node.port));
          const covered = topology
            .filter((node) => node.role === "master" && !node.failed && livePorts.has(node.port))
            .flatMap((node) => node.slots)
            .reduce((sum, [from, to]) => sum + (to - from + 1), 0);
          if (covered !== 16_384) return false;
          // Every running replica has finished its initial sync, so failovers have data to promote.
          for (const node of running) {
            const replication = await ask(node, (client) => client.info("replication"));
            if (replication.includes("role:slave") && !replication.includes("master_link_status:up")) return false;
          }
          return true;
        },
        timeoutMs,
      );
    },
    async killAndFailover(node, timeoutMs = 30_000) {
      const before = (await cluster.topology()).find((info) => info.port === node.port);
      if (before?.role !== "master") throw new Error(`node ${node.port} is not a master`);
      await node.kill();
      await until(
        `a replica took over the slots of ${node.port}`,
        async () => {
          const topology = await cluster.topology();
          const heir = topology.find(
            (info) =>
              info.role === "master" &&
              !info.failed &&
              info.port !== node.port &&
              info.slots.some(([from]) => from === before.slots[0]![0]),
          );
          return heir !== undefined;
        },
        timeoutMs,
      );
      await cluster.waitHealthy(timeoutMs);
    },
    async stop() {
      for (const client of clients) client.disconnect();
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };

  try {
    await cluster.waitHealthy();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
