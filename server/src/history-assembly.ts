/**
 * Store, history service and broadcaster put together, in one place for the
 * server (app.ts) and the CLI's `clear` (which clears and tells the user's
 * connections exactly as a replica does).
 */
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { HistoryOperations } from "./history-operations.js";
import { type Broadcaster, HistoryService } from "./history-service.js";
import type { Metrics } from "./metrics.js";
import {
  announceDraftDiscarded,
  announceDraftUpdated,
  announceHistoryCleared,
  announceMessageAdded,
  createRoomBroadcaster,
} from "./realtime/broadcaster.js";
import type { ScrollbackServer } from "./realtime/types.js";
import type { RedisClient } from "./redis-connections.js";
import { RedisStore } from "./store/redis-store.js";
import type { Store, StoreSettings } from "./store/store.js";
import { traceBroadcaster, traceHistory, traceStore } from "./tracing.js";

/**
 * The Socket.IO server the fan-out goes through. A function because the
 * server creates it after the service (its handlers call the service);
 * until it exists nothing is broadcast.
 */
export type IoRef = () => ScrollbackServer | undefined;

type StoreConfig = Pick<Config, "historyMax" | "historyTtlSeconds" | "drafts" | "maxMessageBytes">;

/** The limits both stores share, with unreadable elements counted in `metrics`. */
export function storeSettings(config: StoreConfig, metrics: Metrics): StoreSettings {
  return {
    historyMax: config.historyMax,
    historyTtlSeconds: config.historyTtlSeconds,
    draftIdleMs: config.drafts.idleMs,
    maxDraftsPerUser: config.drafts.maxPerUser,
    maxDraftBytes: config.maxMessageBytes,
    onSkippedElements: (count) => metrics.skippedElements.inc(count),
  };
}

/**
 * The Redis store over `client`, announcing each new message and each clear
 * to every replica within its write (one round trip per add, on a Cluster
 * too, and every tab gets them in Redis's order; see rooms.ts).
 * With `REDIS_WAIT_REPLICAS`, adds and their `WAIT` go over `waitClients`
 * (redis-connections.ts).
 */
export function createRedisStore(
  config: StoreConfig & Pick<Config, "keyPrefix" | "redisWait" | "inbox">,
  client: RedisClient,
  options: {
    metrics: Metrics;
    io: IoRef;
    onStall?: (stalled: boolean) => void;
    waitClients?: readonly RedisClient[];
    /** Where an add that missed the inbox is logged (the metric counts it either way). */
    logger?: Logger;
  },
): RedisStore {
  const { inbox } = config;
  return new RedisStore({
    ...storeSettings(config, options.metrics),
    client,
    waitClients: options.waitClients,
    keyPrefix: config.keyPrefix,
    waitReplicas: config.redisWait.replicas,
    waitTimeoutMs: config.redisWait.timeoutMs,
    onStall: options.onStall,
    inbox: inbox && {
      stream: inbox.stream,
      roles: new Set(inbox.roles),
      maxLen: inbox.maxLen,
      userPerMinute: inbox.userPerMinute,
      onProblem: ({ error, messageId, stored }) => {
        options.metrics.inboxAppendFailures.inc({ stored: String(stored) });
        options.logger?.error(
          { err: error, messageId, stream: inbox.stream },
          stored ? "stored, but not appended to the inbox stream" : "refused an add: the inbox key is not a stream, or its XADD failed",
        );
      },
    },
    announce: (message, origin) => {
      const io = options.io();
      return io && announceMessageAdded(io, config.keyPrefix, message, origin);
    },
    announceClear: (userId, origin) => {
      const io = options.io();
      return io && announceHistoryCleared(io, config.keyPrefix, userId, origin);
    },
    announceDraftUpdate: (userId, update, origin) => {
      const io = options.io();
      return io && announceDraftUpdated(io, config.keyPrefix, userId, update, origin);
    },
    announceDraftDiscarded: (userId, id, origin) => {
      const io = options.io();
      return io && announceDraftDiscarded(io, config.keyPrefix, userId, id, origin);
    },
  });
}

export interface HistoryAssemblyOptions {
  store: Store;
  metrics: Metrics;
  maxMessageBytes: number;
  maxMetaBytes: number;
  /** DRAFT_IDLE_MS (default: the stores' default). */
  draftIdleMs?: number;
  /** KEY_PREFIX: names the users' rooms (rooms.ts). */
  keyPrefix: string;
  io: IoRef;
  /** Traces the operations, their store calls and fan-out; none while tracing is off (nothing is added to the hot path). */
  tracer?: Tracer;
}

/** The four operations over `store`, fanning out through `io`'s rooms. */
export function assembleHistory(options: HistoryAssemblyOptions): HistoryOperations {
  const { tracer } = options;
  let rooms: { io: ScrollbackServer; broadcaster: Broadcaster } | undefined;
  const current = (): Broadcaster | undefined => {
    const io = options.io();
    if (io && rooms?.io !== io) rooms = { io, broadcaster: createRoomBroadcaster(io, options.keyPrefix) };
    return rooms?.broadcaster;
  };
  const broadcaster: Broadcaster = {
    messageAdded: (message, except, announced) => current()?.messageAdded(message, except, announced),
    historyCleared: (userId, except, announced) => current()?.historyCleared(userId, except, announced),
    draftUpdated: (userId, update, except, announced) => current()?.draftUpdated(userId, update, except, announced),
    draftDiscarded: (userId, id, except, announced) => current()?.draftDiscarded(userId, id, except, announced),
  };
  const service = new HistoryService({
    store: tracer ? traceStore(options.store, tracer) : options.store,
    metrics: options.metrics,
    maxMessageBytes: options.maxMessageBytes,
    maxMetaBytes: options.maxMetaBytes,
    draftIdleMs: options.draftIdleMs,
    broadcaster: tracer ? traceBroadcaster(broadcaster, tracer) : broadcaster,
  });
  return tracer ? traceHistory(service, tracer) : service;
}
