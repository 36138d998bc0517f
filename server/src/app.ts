/**
 * Assembles one scrollback server: store, HTTP routes, Socket.IO, fan-out.
 * Tests create several of these in one process, each with its own Redis
 * connections and adapter, exactly as separate replicas would have.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Tracer } from "@opentelemetry/api";
import express from "express";
import type { Logger } from "pino";
import { createAuthenticator } from "./auth/authenticator.js";
import type { Config } from "./config.js";
import { directWriteLibrary, keepDirectWriteFunctionLoaded } from "./direct-write-function.js";
import { assembleHistory, createRedisStore, type IoRef, storeSettings } from "./history-assembly.js";
import { createHealthRouter } from "./http/health.js";
import { createMetricsRouter } from "./http/metrics-route.js";
import { requestMetrics } from "./http/request-metrics.js";
import { createServiceApiRouter } from "./http/service-api.js";
import { createWidgetRouter } from "./http/widget.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { startPubsubCanary } from "./realtime/pubsub-canary.js";
import { createSocketServer, MAX_HTTP_BUFFER_SIZE } from "./realtime/socket-server.js";
import type { ScrollbackServer } from "./realtime/types.js";
import { createRedisConnections, probeRedis, type RedisConnections, WAIT_CONNECTIONS } from "./redis-connections.js";
import { MemoryStore } from "./store/memory-store.js";
import type { Store } from "./store/store.js";

export interface ScrollbackApp {
  config: Readonly<Config>;
  httpServer: HttpServer;
  io: ScrollbackServer;
  store: Store;
  metrics: Metrics;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /**
   * Graceful stop: refuse new connections and events, let running handlers
   * ack (up to `drainMs`), disconnect clients, close Redis.
   */
  close(drainMs?: number): Promise<void>;
}

/** Picks the store per `STORE` (PROTOCOL.md §1), probing the default Redis once for `auto`. */
async function openStore(
  config: Readonly<Config>,
  metrics: Metrics,
  logger: Logger,
  io: IoRef,
): Promise<{ store: Store; redis?: RedisConnections }> {
  const useRedis = config.store === "redis" || (config.store === "auto-probe" && (await probeRedis(config.redis)));
  if (!useRedis) {
    if (config.inbox) throw new Error(`INBOX_STREAM needs Redis (the inbox is a Redis Stream), and no Redis answered at 127.0.0.1:6379`);
    if (config.store === "auto-probe") {
      logger.warn("no Redis at 127.0.0.1:6379: using the in-process memory store (one process only, lost on restart)");
    }
    metrics.storeUp.set(1);
    return { store: new MemoryStore(storeSettings(config, metrics)) };
  }
  const redis = createRedisConnections(config.redis, logger.child({ component: "redis" }), {
    waitConnections: config.redisWait.replicas > 0 ? WAIT_CONNECTIONS : 0,
  });
  redis.data.on("ready", () => metrics.storeUp.set(1));
  redis.data.on("close", () => metrics.storeUp.set(0));
  const store = createRedisStore(config, redis.data, {
    metrics,
    io,
    waitClients: redis.waits,
    logger: logger.child({ component: "store" }),
    onStall: (stalled) => {
      metrics.storeUp.set(stalled ? 0 : 1);
      if (stalled) logger.warn("redis stopped answering on an open connection: refusing store calls until a PING answers");
      else logger.info("redis answers again");
    },
  });
  // Programs that write to Redis directly get the same add through FCALL scrollback_add (PROTOCOL.md §9).
  const library = directWriteLibrary({ ...config, cluster: redis.data.isCluster });
  keepDirectWriteFunctionLoaded(redis.data, library, logger.child({ component: "redis-function" }));
  return { store, redis };
}

/** What main.ts (or a test) hands the app besides its configuration. */
export interface CreateAppOptions {
  /** Traces the operations, their store calls and fan-out (see tracing.ts); none while tracing is off. */
  tracer?: Tracer;
}

/**
 * Connections the kernel queues before the server accepts them (Node's
 * default is 511). When a replica restarts, every client reconnects at once:
 * with a short queue the kernel falls back to SYN cookies and resets some of
 * those connections. The kernel caps it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;

export async function createApp(config: Readonly<Config>, logger: Logger, options: CreateAppOptions = {}): Promise<ScrollbackApp> {
  const metrics = createMetrics({ commit: config.commit });
  // The store and the service fan out through io, and io's handlers need the service: io is late-bound.
  let io: ScrollbackServer | undefined;
  const { store, redis } = await openStore(config, metrics, logger, () => io);
  logger.info({ store: store.kind, target: store.kind === "redis" ? config.redis.kind : undefined }, "store ready");

  const web = express();
  web.disable("x-powered-by");
  // Exact paths only, as in exact-router.ts: what a proxy rule names is all that matches.
  web.set("case sensitive routing", true);
  web.set("strict routing", true);
  const httpServer = createServer(web);

  const service = assembleHistory({
    store,
    metrics,
    maxMessageBytes: config.maxMessageBytes,
    maxMetaBytes: config.maxMetaBytes,
    draftIdleMs: config.drafts.idleMs,
    keyPrefix: config.keyPrefix,
    io: () => io,
    tracer: options.tracer,
  });
  const sockets = createSocketServer({
    httpServer,
    authenticate: createAuthenticator(config.auth),
    service,
    metrics,
    logger: logger.child({ component: "realtime" }),
    corsOrigins: config.corsOrigins,
    rateLimit: config.rateLimit,
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    keyPrefix: config.keyPrefix,
    redis,
  });
  io = sockets.io;
  const canary = redis
    ? startPubsubCanary({ pub: redis.pub, sub: redis.sub, metrics, logger: logger.child({ component: "pubsub-canary" }) })
    : undefined;

  web.use(requestMetrics(metrics));
  web.use(createHealthRouter(store, metrics));
  web.use(createMetricsRouter(metrics, store));
  web.use(
    createServiceApiRouter({
      service,
      metrics,
      logger: logger.child({ component: "http" }),
      serviceToken: config.serviceToken,
      draftChunksPerSecond: config.drafts.chunksPerSecond,
      bodyLimitBytes: MAX_HTTP_BUFFER_SIZE,
    }),
  );
  web.use(
    createWidgetRouter({
      authMode: config.auth.mode,
      servers: config.widgetServers,
      embedders: config.corsOrigins ?? [],
      logger: logger.child({ component: "widget" }),
    }),
  );

  let closing: Promise<void> | undefined;
  return {
    config,
    httpServer,
    io: sockets.io,
    store,
    metrics,
    listen: () =>
      new Promise((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
          httpServer.off("error", reject);
          resolve((httpServer.address() as AddressInfo).port);
        });
      }),
    close(drainMs = 8_000) {
      closing ??= (async () => {
        sockets.startDraining();
        httpServer.close();
        const deadline = Date.now() + drainMs;
        while (sockets.inFlight.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        canary?.stop();
        // io.close() disconnects every client and closes the adapter and the HTTP server.
        await new Promise<void>((resolve) => sockets.io.close(() => resolve()));
        httpServer.closeAllConnections();
        await store.close();
        await redis?.close();
      })();
      return closing;
    },
  };
}
