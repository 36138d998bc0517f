/**
 * Prometheus metrics (served at /metrics), named after Prometheus's
 * conventions: base units in the name (`_seconds`, `_bytes`), `_total` on
 * counters, and prom-client's standard `process_*` / `nodejs_*` series
 * unprefixed so stock dashboards and alerts find them. One registry per
 * server instance, so several replicas can run in one test process.
 */
import { readFileSync } from "node:fs";
import { CLIENT_EVENTS, type ClientEventName, ERROR_CODES } from "@scrollback/client/protocol";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** An event's outcome: `ok` or the error code its ack carried. */
export type EventOutcome = "ok" | (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The pre-bound series one handled event updates: its count and its receipt-to-ack latency. */
export interface EventSeries {
  count: { inc(): void };
  duration: { observe(seconds: number): void };
}

export interface Metrics {
  registry: Registry;
  /** Open Socket.IO connections on this replica. */
  connections: Gauge;
  /** Client events by name and outcome (`ok` or an error code). */
  events: Counter<"event" | "outcome">;
  /**
   * The series of one client event and outcome, bound once when the metrics
   * are made so the per-event path does no label lookup of its own.
   */
  eventSeries: Readonly<Record<ClientEventName, Readonly<Record<EventOutcome, EventSeries>>>>;
  /** Store call latency by operation. */
  storeLatency: Histogram<"operation">;
  /** Its series of each operation, bound once like {@link Metrics.eventSeries}. */
  storeSeries: Readonly<Record<StoreOperation, { observe(seconds: number): void }>>;
  /** Whether the store answers: sets `scrollback_store_up` and its deprecated alias `scrollback_redis_up`. */
  storeUp: { set(value: 0 | 1): void };
  /** List elements skipped because they are not readable messages. */
  skippedElements: Counter;
  /** Adds that did not reach the inbox stream, by whether the message was stored all the same (`stored`: Cluster only). */
  inboxAppendFailures: Counter<"stored">;
  /** HTTP API operations (add, load, clear, the draft routes) that reached their handler, by route and status. */
  httpRequests: Counter<"route" | "status">;
  /** Every HTTP request's latency, by route template, method and status (refusals before a handler too). */
  httpDuration: Histogram<"route" | "method" | "status">;
  /** Connections closed for sending far past their rate limit. */
  rateLimitDisconnects: Counter;
  /** Connections refused because Redis refused their room's SSUBSCRIBE (room-subscription.ts). */
  roomSubscriptionFailures: Counter;
  /** 1 while this replica's fan-out subscription delivers its own canary messages, else 0 (see pubsub-canary.ts). */
  pubsubUp: Gauge;
  /** 1 while the store refuses adds for lack of memory (STORE_FULL), else 0. */
  storeFull: Gauge;
}

/** The store calls whose latency `storeLatency` records (history-service.ts). */
export const STORE_OPERATIONS = ["append", "load", "search", "clear", "draft_append", "draft_discard", "drafts"] as const;
export type StoreOperation = (typeof STORE_OPERATIONS)[number];

/** Seconds: from well under a millisecond (memory store) to the 2 s store deadline and past it. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];

/** The root package.json's version: what `scrollback_build_info` reports. */
function packageVersion(): string {
  try {
    const root = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof root.version === "string" ? root.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Labels of `scrollback_build_info`: `commit` only when the deployment says which (SCROLLBACK_COMMIT). */
function buildLabels(commit: string | undefined): Record<string, string> {
  const labels: Record<string, string> = { version: packageVersion(), node: process.version };
  if (commit) labels.commit = commit;
  return labels;
}

/** `build.commit`: Config's SCROLLBACK_COMMIT, when set. */
export function createMetrics(build: { commit?: string } = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const buildInfo = buildLabels(build.commit);
  new Gauge({
    name: "scrollback_build_info",
    help: "Always 1; the labels say which build runs (version from package.json, Node.js version, commit from SCROLLBACK_COMMIT)",
    labelNames: Object.keys(buildInfo),
    registers: [registry],
  }).set(buildInfo, 1);

  const events = new Counter({
    name: "scrollback_events_total",
    help: "Client events by name and outcome",
    labelNames: ["event", "outcome"],
    registers: [registry],
  });
  const eventDuration = new Histogram({
    name: "scrollback_event_duration_seconds",
    help: "Client events that reached their handler: time from receipt to ack, by event and outcome",
    labelNames: ["event", "outcome"],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const outcomes: EventOutcome[] = ["ok", ...Object.values(ERROR_CODES)];
  const eventSeries = {} as Record<ClientEventName, Record<EventOutcome, EventSeries>>;
  for (const event of CLIENT_EVENTS) {
    const byOutcome = {} as Record<EventOutcome, EventSeries>;
    for (const outcome of outcomes)
      byOutcome[outcome] = { count: events.labels(event, outcome), duration: eventDuration.labels(event, outcome) };
    eventSeries[event] = byOutcome;
  }

  const storeLatency = new Histogram({
    name: "scrollback_store_duration_seconds",
    help: "Store call latency by operation",
    labelNames: ["operation"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const storeSeries = {} as Record<StoreOperation, { observe(seconds: number): void }>;
  for (const operation of STORE_OPERATIONS) storeSeries[operation] = storeLatency.labels(operation);

  const storeUpGauge = new Gauge({
    name: "scrollback_store_up",
    help: "1 while the store (Redis or memory) answers its ping, else 0",
    registers: [registry],
  });
  const redisUpGauge = new Gauge({
    name: "scrollback_redis_up",
    help: "Deprecated: the same value as scrollback_store_up",
    registers: [registry],
  });

  return {
    registry,
    connections: new Gauge({ name: "scrollback_connections", help: "Open Socket.IO connections", registers: [registry] }),
    events,
    eventSeries,
    storeLatency,
    storeSeries,
    storeUp: {
      set(value) {
        storeUpGauge.set(value);
        redisUpGauge.set(value);
      },
    },
    skippedElements: new Counter({
      name: "scrollback_skipped_elements_total",
      help: "Stored elements skipped because they are not readable messages",
      registers: [registry],
    }),
    inboxAppendFailures: new Counter({
      name: "scrollback_inbox_append_failures_total",
      help: "Adds that did not reach the inbox stream, by whether the message was stored all the same",
      labelNames: ["stored"],
      registers: [registry],
    }),
    rateLimitDisconnects: new Counter({
      name: "scrollback_rate_limit_disconnects_total",
      help: "Connections closed for sending far past their rate limit",
      registers: [registry],
    }),
    roomSubscriptionFailures: new Counter({
      name: "scrollback_room_subscription_failures_total",
      help: "Connections refused UNAVAILABLE because Redis refused the SSUBSCRIBE of their user's room channel",
      registers: [registry],
    }),
    storeFull: new Gauge({
      name: "scrollback_store_full",
      help: "1 while the store refuses new messages for lack of memory (Redis at maxmemory under noeviction), else 0",
      registers: [registry],
    }),
    pubsubUp: new Gauge({
      name: "scrollback_pubsub_up",
      help: "1 while the fan-out subscription delivers this replica's canary messages",
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: "scrollback_http_requests_total",
      help: "HTTP API operations that reached their handler, by route and status",
      labelNames: ["route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "scrollback_http_request_duration_seconds",
      help: "HTTP request latency by route template, method and status, refusals before any handler included",
      labelNames: ["route", "method", "status"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
