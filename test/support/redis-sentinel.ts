/**
 * A real Sentinel deployment on loopback for one test file: one master, one
 * replica and three `redis-server --sentinel` processes (quorum 2), each on a
 * free port in its own temp dir. Timeouts are short so that a killed master
 * is failed over within a few seconds.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import { freePort } from "../../dev/free-port.js";
import { sentinelAclRule } from "../../dev/redis-acl.js";
import { clientTlsOptions, type RedisServer, type RedisServerOptions, startRedis, TEST_REDIS_USERS } from "../../dev/redis-server.js";
import type { TestCertificates } from "../../dev/test-certificates.js";
import { until } from "./wait.js";

/** The name Sentinels know the master by (`REDIS_SENTINEL_NAME`). */
export const SENTINEL_MASTER_NAME = "scrollback";

/** How long the master may be silent before a Sentinel counts it as down. */
export const SENTINEL_DOWN_AFTER_MS = 1_000;

export interface RedisSentinelOptions {
  /** Options for the master and replica, e.g. `appendOnly`. */
  data?: Pick<RedisServerOptions, "appendOnly" | "args">;
  /**
   * TLS only, everywhere: data nodes and Sentinels on TLS ports with these
   * certificates (client certificates required), replication and the
   * Sentinels' own connections over TLS too.
   */
  tls?: TestCertificates;
}

export interface RedisSentinel {
  /** The two data nodes; which one is master changes with failovers. */
  dataNodes: RedisServer[];
  sentinels: RedisServer[];
  /** `REDIS_SENTINELS` for the server. */
  sentinelsEnv: string;
  /** The server's settings for this deployment: the Sentinels, the master's name and the `scrollback` user's credentials. */
  serverEnv: Record<string, string>;
  /** The data node the Sentinels currently name as master. */
  master(): Promise<RedisServer>;
  /** The data node that is not the master. */
  replica(): Promise<RedisServer>;
  /** SIGKILLs the master and waits until the Sentinels have promoted the replica and it accepts writes. */
  killMasterAndFailover(timeoutMs?: number): Promise<{ oldMaster: RedisServer; newMaster: RedisServer }>;
  /** Resolves once every Sentinel knows the master, the replica (in sync) and the other two Sentinels. */
  waitSettled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** What a Sentinel's ACL LOG holds for the scrollback user. */
async function refusedToScrollback(client: Redis): Promise<string[]> {
  const entries = (await client.call("ACL", "LOG", "128")) as unknown[][];
  return entries
    .map((entry) => new Map(Array.from({ length: entry.length / 2 }, (_, i) => [String(entry[2 * i]), entry[2 * i + 1]])))
    .filter((fields) => fields.get("username") === TEST_REDIS_USERS.server.username)
    .map((fields) => `sentinel: ${fields.get("reason")} ${fields.get("object")}`);
}

function isRunning(node: RedisServer): boolean {
  return node.process.exitCode === null && node.process.signalCode === null;
}

/** A question to a data node or a Sentinel, as `admin` (both have that user). */
async function ask<T>(port: number, command: (client: Redis) => Promise<T>, tls?: ConnectionOptions): Promise<T> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    tls,
    ...TEST_REDIS_USERS.admin,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return await command(client);
  } finally {
    client.disconnect();
  }
}

async function startSentinel(masterPort: number, tls?: TestCertificates): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "scrollback-sentinel-"));
  const configFile = join(dir, "sentinel.conf");
  const name = SENTINEL_MASTER_NAME;
  const { server, admin } = TEST_REDIS_USERS;
  writeFileSync(
    configFile,
    [
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${name} ${SENTINEL_DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${name} 10000`,
      `sentinel parallel-syncs ${name} 1`,
      // The data nodes have the test users with the default user off: monitor and fail over as admin.
      `sentinel auth-user ${name} ${admin.username}`,
      `sentinel auth-pass ${name} ${admin.password}`,
      // The Sentinels' own users: the replicas ask as scrollback, the fixture as admin. The default
      // user stays on here, for the Sentinels' talk among themselves.
      `user ${server.username} ${sentinelAclRule(server.password)}`,
      `user ${admin.username} on >${admin.password} ~* &* +@all`,
      // Sentinels reach the data nodes (and each other) over TLS.
      ...(tls ? ["tls-replication yes"] : []),
      "",
    ].join("\n"),
  );
  return startRedis({ dir, configFile, port: await freePort(), args: ["--sentinel"], acl: false, tls: tls && { certificates: tls } });
}

export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinel> {
  const tlsOptions = options.tls && clientTlsOptions(options.tls);
  const dataOptions: RedisServerOptions = {
    ...options.data,
    ...(options.tls && { tls: { certificates: options.tls }, args: [...(options.data?.args ?? []), "--tls-replication", "yes"] }),
  };
  const master = await startRedis(dataOptions);
  const replica = await startRedis({
    ...dataOptions,
    args: [...(dataOptions.args ?? []), "--replicaof", "127.0.0.1", String(master.port)],
  });
  const dataNodes = [master, replica];
  const sentinels = await Promise.all([0, 1, 2].map(() => startSentinel(master.port, options.tls)));
  const askNode = <T>(port: number, command: (client: Redis) => Promise<T>) => ask(port, command, tlsOptions);

  const masterPort = async (): Promise<number> => {
    for (const sentinel of sentinels.filter(isRunning)) {
      try {
        const address = (await askNode(sentinel.port, (client) =>
          client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER_NAME),
        )) as [string, string] | null;
        if (address) return Number(address[1]);
      } catch {
        // Try the next Sentinel.
      }
    }
    throw new Error("no Sentinel names a master");
  };
  const byPort = (port: number): RedisServer => {
    const node = dataNodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`the Sentinels name an unknown master on ${port}`);
    return node;
  };

  const sentinelsEnv = sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(",");
  const deployment: RedisSentinel = {
    dataNodes,
    sentinels,
    sentinelsEnv,
    serverEnv: {
      REDIS_SENTINELS: sentinelsEnv,
      REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
      REDIS_USERNAME: TEST_REDIS_USERS.server.username,
      REDIS_PASSWORD: TEST_REDIS_USERS.server.password,
    },
    master: async () => byPort(await masterPort()),
    replica: async () => {
      const port = await masterPort();
      return dataNodes.find((node) => node.port !== port)!;
    },
    async waitSettled(timeoutMs = 30_000) {
      await until(
        "every Sentinel knows the master, an in-sync replica and two other Sentinels",
        async () => {
          const port = await masterPort();
          for (const sentinel of sentinels) {
            const [replicas, peers] = await askNode(sentinel.port, async (client) => [
              (await client.call("SENTINEL", "REPLICAS", SENTINEL_MASTER_NAME)) as string[][],
              (await client.call("SENTINEL", "SENTINELS", SENTINEL_MASTER_NAME)) as string[][],
            ]);
            const field = (entry: string[], key: string) => entry[entry.indexOf(key) + 1];
            const liveReplicas = replicas.filter((entry) => !String(field(entry, "flags")).includes("down"));
            if (liveReplicas.length < dataNodes.filter(isRunning).length - 1 || peers.length < 2) return false;
          }
          const role = await askNode(port, (client) => client.info("replication"));
          if (!role.includes("role:master")) return false;
          for (const node of dataNodes.filter((candidate) => candidate.port !== port && isRunning(candidate))) {
            const replication = await askNode(node.port, (client) => client.info("replication"));
            if (!replication.includes(`master_port:${port}`) || !replication.includes("master_link_status:up")) return false;
          }
          return true;
        },
        timeoutMs,
      );
    },
    async killMasterAndFailover(timeoutMs = 30_000) {
      const oldMaster = await deployment.master();
      await oldMaster.kill();
      let newMaster: RedisServer | undefined;
      // Every Sentinel must name the new master before this returns: a caller
      // that restarts the old (empty, persistence-less) master while one
      // Sentinel still names it could see the promoted replica resync from it
      // and lose everything, the hazard Redis's Sentinel docs warn about.
      const everySentinelNames = async (port: number) => {
        for (const sentinel of sentinels.filter(isRunning)) {
          const address = (await askNode(sentinel.port, (client) =>
            client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER_NAME),
          )) as [string, string] | null;
          if (!address || Number(address[1]) !== port) return false;
        }
        return true;
      };
      await until(
        "every Sentinel names the promoted replica",
        async () => {
          const port = await masterPort();
          if (port === oldMaster.port || !(await everySentinelNames(port))) return false;
          const replication = await askNode(port, (client) => client.info("replication"));
          newMaster = byPort(port);
          return replication.includes("role:master");
        },
        timeoutMs,
      );
      return { oldMaster, newMaster: newMaster! };
    },
    async stop() {
      // The Sentinels' ACL LOG, as the data nodes' own stop() checks theirs: a refusal fails the suite.
      const refused = (
        await Promise.all(sentinels.filter(isRunning).map((sentinel) => ask(sentinel.port, refusedToScrollback).catch(() => [])))
      ).flat();
      await Promise.all([...sentinels, ...dataNodes].map((node) => node.stop()));
      if (refused.length > 0) throw new Error(`Sentinels refused commands outside the ACL rule (dev/redis-acl.ts): ${refused.join("; ")}`);
    },
  };

  try {
    await deployment.waitSettled();
  } catch (error) {
    await deployment.stop();
    throw error;
  }
  return deployment;
}
