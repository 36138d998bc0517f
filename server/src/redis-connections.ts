/**
 * The Redis connections a replica holds, built from the configured target
 * (standalone, Sentinel or Cluster):
 *
 * - `data`: the store's commands. No offline queue: while Redis is away a
 *   command fails at once instead of being queued and run behind the client's
 *   back later (PROTOCOL.md §4, UNAVAILABLE).
 * - `waits`: with `REDIS_WAIT_REPLICAS`, a few more like `data` for the adds
 *   and their `WAIT`. A `WAIT` blocks its connection until the replicas
 *   answer or its timeout passes, and it counts only the writes of its own
 *   connection, so an add and its `WAIT` share one of these, and everyone
 *   else's calls stay on `data`, never queued behind them.
 * - `pub` / `sub`: the Socket.IO adapter's fan-out. `sub` keeps its queue and
 *   retries forever so subscriptions are restored after an outage.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { RedisTarget } from "./config.js";
import { describeRedisError, redisTlsOptions } from "./redis-tls.js";
import { withTimeout } from "./with-timeout.js";

/**
 * How long ioredis keeps waiting for a reply. Longer than the deadline on
 * purpose: the client hears UNAVAILABLE at the deadline, but a write that
 * lands a little later is still known to have landed, so the user's other
 * connections are told about it (HistoryService).
 */
export const COMMAND_TIMEOUT_MS = 5_000;

/**
 * How many connections carry the adds that `WAIT` (when it is on). Each
 * blocks for up to `REDIS_WAIT_TIMEOUT_MS` while replicas lag; this many adds
 * wait side by side before one has to queue behind another. RedisStore
 * sends an add only over one that is connected: one that is down would
 * refuse it at once.
 */
export const WAIT_CONNECTIONS = 4;

export type RedisClient = Redis | Cluster;

export interface RedisConnections {
  data: RedisClient;
  /** Connections for an add and its `WAIT` (empty unless asked for). */
  waits: RedisClient[];
  pub: RedisClient;
  sub: RedisClient;
  /** Closes them all, politely if Redis answers. */
  close(): Promise<void>;
}

type Role = "data" | "wait" | "pub" | "sub";

/**
 * How long to wait before reconnect attempt `attempt` (1, 2, …): quickly, so
 * the service heals soon after Redis returns, and never more than 1 s apart.
 * The same for a node, a Cluster and the Sentinels.
 */
function reconnectDelay(attempt: number): number {
  return Math.min(100 * attempt, 1_000);
}

function roleOptions(role: Role): RedisOptions {
  const base: RedisOptions = {
    connectTimeout: 2_000,
    retryStrategy: reconnectDelay,
    connectionName: `scrollback:${role}`,
  };
  if (role === "sub") {
    // No ready check (an INFO): the adapter subscribes as soon as a room
    // appears, and a SSUBSCRIBE written while the check is pending puts the
    // connection in subscriber mode, fails the check and drops the connection
    // together with the subscriptions still in flight (their rooms would
    // silently miss other replicas' messages).
    return { ...base, maxRetriesPerRequest: null, autoResubscribe: true, enableReadyCheck: false };
  }
  return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS };
}

/** REDIS_USERNAME / REDIS_PASSWORD, leaving out what is not set. */
function definedAuth(target: RedisTarget): { username?: string; password?: string } {
  return {
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: target.password }),
  };
}

/**
 * Creates one client of `role` for `target`.
 * @throws {ConfigError} when a REDIS_TLS_* file cannot be used.
 */
export function createRedisClient(target: RedisTarget, role: Role): RedisClient {
  const tls = redisTlsOptions(target);
  const options: RedisOptions = { ...roleOptions(role), ...(tls && { tls }) };
  const auth = { username: target.username, password: target.password };
  switch (target.kind) {
    case "cluster": {
      const clusterOptions: ClusterOptions = {
        redisOptions: { ...options, ...auth },
        // With TLS, connect to each node by the name it is known by (a seed's
        // host name, not its address), so the certificate is checked against it.
        ...(tls && { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }),
        enableOfflineQueue: options.enableOfflineQueue ?? true,
        clusterRetryStrategy: reconnectDelay,
        slotsRefreshTimeout: 2_000,
        // ioredis otherwise learns a new slot owner only from a MOVED reply;
        // a periodic refresh also heals connections that sent nothing lately.
        slotsRefreshInterval: 5_000,
      };
      if (role === "sub") clusterOptions.shardedSubscribers = true;
      return new Cluster(target.nodes, clusterOptions);
    }
    case "sentinel":
      return reconnectAfterAbortedConnect(
        new Redis({
          ...options,
          ...auth,
          sentinels: target.sentinels,
          name: target.name,
          db: target.db,
          sentinelUsername: target.username,
          sentinelPassword: target.password,
          sentinelRetryStrategy: reconnectDelay,
          // With TLS, the Sentinels are spoken to over TLS too, with the same files.
          ...(tls && { sentinelTLS: tls, enableTLSForSentinelMode: true }),
          // Follow +switch-master announcements: a master that hangs rather than
          // dies keeps its connections open, and only this moves them over.
          failoverDetector: true,
          // Connected by reconnectAfterAbortedConnect, once it can retry an aborted connect.
          lazyConnect: true,
        }),
      );
    case "standalone":
      // Credentials in REDIS_URL win; without them, REDIS_USERNAME / REDIS_PASSWORD
      // apply (ioredis fills only what the URL leaves unset).
      if (target.url) return new Redis(target.url, { ...options, ...definedAuth(target) });
      return new Redis({ ...options, ...auth, host: target.host, port: target.port, db: target.db });
  }
}

/**
 * ioredis (5.11) ends a Sentinel client for good when a `+switch-master`
 * announcement arrives while the client is reconnecting: the failover
 * detector still subscribed from the lost master's connection disconnects
 * the connector in the middle of asking the Sentinels, and that aborted
 * connect counts as fatal (status "end", no retry). The failover that killed
 * the master is exactly when this happens, so every connection of a replica
 * could end at once and its store stay UNAVAILABLE until a restart.
 *
 * So an aborted question to the Sentinels is asked again, inside the same
 * connect: the client never reaches "end", and keeps what it queued meanwhile
 * as after any other reconnect. (Ending it and connecting again would fail
 * the sub client's queued SSUBSCRIBE/SUNSUBSCRIBE with "Connection is
 * closed.": a room that arrived would stay deaf, one that left would keep
 * its subscription.) A client closed with quit() or disconnect() stays closed.
 */
function reconnectAfterAbortedConnect(client: Redis): Redis {
  // ioredis's message for a connect cut short by a disconnect.
  const CONNECTION_CLOSED = "Connection is closed.";
  let closedOnPurpose = false;
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.quit = ((callback?: Parameters<Redis["quit"]>[0]) => {
    closedOnPurpose = true;
    return quit(callback);
  }) as Redis["quit"];
  client.disconnect = (reconnect = false) => {
    if (!reconnect) closedOnPurpose = true;
    disconnect(reconnect);
  };
  // Not in ioredis's typings; the client calls it on each connect.
  const connector = (client as unknown as { connector: { connect(...args: unknown[]): Promise<unknown> } }).connector;
  const connect = connector.connect.bind(connector);
  connector.connect = async (...args: unknown[]) => {
    for (;;) {
      try {
        return await connect(...args);
      } catch (error) {
        // The connector's own words for "disconnected while asking the Sentinels".
        const aborted = error instanceof Error && error.message === CONNECTION_CLOSED;
        if (closedOnPurpose || !aborted) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, reconnectDelay(1)));
      if (closedOnPurpose) throw new Error(CONNECTION_CLOSED);
    }
  };
  client.connect().catch(() => {});
  return client;
}

/**
 * Creates the data, pub and sub clients, and `waitConnections` wait clients,
 * logging their state changes once each.
 */
export function createRedisConnections(target: RedisTarget, logger: Logger, options: { waitConnections?: number } = {}): RedisConnections {
  const clients = {
    data: createRedisClient(target, "data"),
    pub: createRedisClient(target, "pub"),
    sub: createRedisClient(target, "sub"),
  };
  const waits = Array.from({ length: options.waitConnections ?? 0 }, () => createRedisClient(target, "wait"));
  const all: [string, RedisClient][] = [...Object.entries(clients), ...waits.map((client) => ["wait", client] as [string, RedisClient])];
  for (const [role, client] of all) {
    let lastError = "";
    // Without an error listener ioredis would print every failed reconnect.
    client.on("error", (error: Error) => {
      const message = describeRedisError(error, target);
      if (message !== lastError) {
        // A refused certificate is the operator's to fix, not a passing outage.
        const level = message === error.message ? "warn" : "error";
        logger[level]({ role, err: message }, "redis connection error");
      }
      lastError = message;
    });
    client.on("ready", () => {
      if (lastError) logger.info({ role }, "redis connection restored");
      lastError = "";
    });
  }
  handleSubscriptionFailures(clients.sub, ({ command, channels, error }) =>
    logger.debug({ command, channels, err: error.message }, "redis subscription command failed"),
  );
  return {
    ...clients,
    waits,
    async close() {
      await Promise.all(all.map(([, client]) => closeRedisClient(client)));
    },
  };
}

/** A SSUBSCRIBE or SUNSUBSCRIBE that Redis refused or that never got its reply. */
export interface SubscriptionFailure {
  command: "ssubscribe" | "sunsubscribe";
  /** How many channels it named. */
  channels: number;
  error: Error;
}

/**
 * The Socket.IO adapter sends SSUBSCRIBE/SUNSUBSCRIBE without handling their
 * promises, so a command refused during a failover or a shutdown would
 * surface as an unhandled rejection. `onFailure` hears of those instead; a
 * caller that awaits the command still gets its rejection. The subscriptions
 * themselves are restored by ioredis on reconnect.
 *
 * On a Cluster this also covers closing: `quit()` stops the sharded
 * subscribers with a plain disconnect, not a QUIT after their replies, so
 * (un)subscriptions still unanswered, or queued on a subscriber connection
 * that is still connecting, fail with "Connection is closed.".
 */
export function handleSubscriptionFailures(sub: RedisClient, onFailure: (failure: SubscriptionFailure) => void): void {
  for (const name of ["ssubscribe", "sunsubscribe"] as const) {
    const send = sub[name].bind(sub) as (...channels: string[]) => Promise<unknown>;
    (sub as unknown as Record<string, unknown>)[name] = (...channels: string[]) => {
      const reply = send(...channels);
      reply.catch((error: Error) => onFailure({ command: name, channels: channels.length, error }));
      return reply;
    };
  }
}

/** Closes a client: QUIT (waiting up to 1 s for its pending replies) when Redis answers, then disconnect. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  // QUIT may settle after the race is over (Redis down at shutdown): its
  // rejection is expected and handled here, never left unhandled.
  const quit = client.quit().catch(() => undefined);
  await withTimeout(quit, { ms: 1_000, onTimeout: () => undefined });
  client.disconnect();
}

/** One PING to `target` without retries: does a Redis answer there right now? */
export async function probeRedis(target: RedisTarget, timeoutMs = 1_000): Promise<boolean> {
  if (target.kind !== "standalone") return false;
  const tls = redisTlsOptions(target);
  const options: RedisOptions = {
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    ...(tls && { tls }),
  };
  const client = target.url
    ? new Redis(target.url, { ...options, ...definedAuth(target) })
    : new Redis({ ...options, ...definedAuth(target), host: target.host, port: target.port, db: target.db });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
