/**
 * Prometheus metrics (served at /metrics). One registry per server instance,
 * so several replicas can run in one test process.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  /** Open Socket.IO connections on this replica. */
  connections: Gauge;
  /** Client events by name and outcome (`ok` or an error code). */
  events: Counter<"event" | "outcome">;
  /** Store call latency by operation. */
  storeLatency: Histogram<"operation">;
  /** 1 while the store answers, 0 otherwise (always 1 for the memory store). */
  redisUp: Gauge;
  /** List elements skipped because they are not readable messages. */
  skippedElements: Counter;
  /** HTTP API requests by route and status. */
  httpRequests: Counter<"route" | "status">;
  /** Connections closed for sending far past their rate limit. */
  rateLimitDisconnects: Counter;
  /** 1 while this replica's fan-out subscription delivers its own canary messages, else 0 (see pubsub-canary.ts). */
  pubsubUp: Gauge;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "scrollback_process_" });
  return {
    registry,
    connections: new Gauge({ name: "scrollback_connections", help: "Open Socket.IO connections", registers: [registry] }),
    events: new Counter({
      name: "scrollback_events_total",
      help: "Client events by name and outcome",
      labelNames: ["event", "outcome"],
      registers: [registry],
    }),
    storeLatency: new Histogram({
      name: "scrollback_store_duration_seconds",
      help: "Store call latency by operation",
      labelNames: ["operation"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    redisUp: new Gauge({ name: "scrollback_redis_up", help: "1 while the store answers", registers: [registry] }),
    skippedElements: new Counter({
      name: "scrollback_skipped_elements_total",
      help: "Stored elements skipped because they are not readable messages",
      registers: [registry],
    }),
    rateLimitDisconnects: new Counter({
      name: "scrollback_rate_limit_disconnects_total",
      help: "Connections closed for sending far past their rate limit",
      registers: [registry],
    }),
    pubsubUp: new Gauge({
      name: "scrollback_pubsub_up",
      help: "1 while the fan-out subscription delivers this replica's canary messages",
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: "scrollback_http_requests_total",
      help: "HTTP API requests by route and status",
      labelNames: ["route", "status"],
      registers: [registry],
    }),
  };
}
