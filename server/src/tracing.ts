/**
 * OpenTelemetry traces, off by default (`OTEL_TRACING=otlp|console` turns
 * them on). A traced `message:add` is one trace:
 *
 *   message:add                     SERVER    the client event, validation included
 *   ├─ scrollback.store.append      CLIENT    the store call: one EVALSHA of appendMessage.lua
 *   └─ scrollback.fanout            PRODUCER  message:new into the user's room, published to
 *                                             the other replicas through the Redis adapter
 *
 * The other events get a span each with their store call beneath, and so do
 * the HTTP API's requests, which run the same operations. Nothing here runs while tracing is off: the server is
 * then assembled without these wrappers (app.ts), so the hot path is the
 * same code it would be without this file, and the SDK is not even loaded.
 */
import { type Attributes, context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";
import { ERROR_CODES } from "@scrollback/client/protocol";
import type { TracingConfig } from "./config.js";
import { AppError } from "./errors.js";
import type { HistoryOperations } from "./history-operations.js";
import type { Broadcaster } from "./history-service.js";
import type { Store } from "./store/store.js";

/** A running tracer provider. */
export interface Tracing {
  tracer: Tracer;
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

/** Codes that mean the server, not the request, failed: such spans get status ERROR. */
const SERVER_FAULTS: ReadonlySet<string> = new Set([ERROR_CODES.INTERNAL, ERROR_CODES.UNAVAILABLE]);

/**
 * Starts the trace SDK: a tracer provider exporting as `config` says (or to
 * `options.spanProcessor`, which tests use with an in-memory exporter) and an
 * AsyncLocalStorage context manager, which links spans started inside a
 * handler's awaits to the handler's span.
 */
export async function startTracing(config: TracingConfig, options: { spanProcessor?: SpanProcessor } = {}): Promise<Tracing> {
  const [sdk, { AsyncLocalStorageContextManager }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/resources"),
  ]);
  let processor = options.spanProcessor;
  if (!processor && config.exporter === "console") {
    // Printed as each span ends: this exporter is for watching a dev server, not for volume.
    processor = new sdk.SimpleSpanProcessor({ exporter: new sdk.ConsoleSpanExporter() });
  }
  if (!processor) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    const url = config.endpoint === undefined ? undefined : `${config.endpoint.replace(/\/+$/, "")}/v1/traces`;
    processor = new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(url === undefined ? {} : { url }) });
  }
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ "service.name": config.serviceName }),
    spanProcessors: [processor],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  return {
    tracer: provider.getTracer("scrollback"),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

/** Ends `span` after `run`, recording its outcome: `ok` or the error's code. */
async function inSpan<T>(span: Span, run: () => Promise<T>, describe?: (result: T) => Attributes): Promise<T> {
  try {
    const result = await run();
    span.setAttribute("scrollback.outcome", "ok");
    if (describe) span.setAttributes(describe(result));
    return result;
  } catch (error) {
    const code = error instanceof AppError ? error.code : ERROR_CODES.INTERNAL;
    span.setAttribute("scrollback.outcome", code);
    if (SERVER_FAULTS.has(code)) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      if (error instanceof Error) span.recordException(error);
    }
    throw error;
  } finally {
    span.end();
  }
}

/**
 * The history operations with a root span around each, named after its
 * client event (`message:add`, …) whether it came over Socket.IO or the HTTP
 * API; validation, the store call and the fan-out happen inside it.
 */
export function traceHistory(operations: HistoryOperations, tracer: Tracer): HistoryOperations {
  const span = <T>(event: string, originSocketId: string | undefined, run: () => Promise<T>): Promise<T> => {
    // A socket id marks a Socket.IO event; the HTTP API passes none (load and search do not tell).
    const attributes: Attributes = originSocketId === undefined ? {} : { "scrollback.transport": "socket.io" };
    return tracer.startActiveSpan(event, { kind: SpanKind.SERVER, root: true, attributes }, (active) => inSpan(active, run));
  };
  return {
    add: (userId, payload, originSocketId) => span("message:add", originSocketId, () => operations.add(userId, payload, originSocketId)),
    load: (userId, payload) => span("history:load", undefined, () => operations.load(userId, payload)),
    search: (userId, payload) => span("history:search", undefined, () => operations.search(userId, payload)),
    clear: (userId, payload, originSocketId) =>
      span("history:clear", originSocketId, () => operations.clear(userId, payload, originSocketId)),
    appendDraft: (userId, payload, originSocketId) =>
      span("draft:append", originSocketId, () => operations.appendDraft(userId, payload, originSocketId)),
    discardDraft: (userId, payload, originSocketId) =>
      span("draft:discard", originSocketId, () => operations.discardDraft(userId, payload, originSocketId)),
    drafts: (userId) => span("drafts", undefined, () => operations.drafts(userId)),
  };
}

/** The store, with a CLIENT span around each data operation (not around readiness pings). */
export function traceStore(store: Store, tracer: Tracer): Store {
  const system = store.kind === "redis" ? { "db.system": "redis" } : { "db.system": "memory" };
  const span = <T>(operation: string, dbOperation: string, run: () => Promise<T>, describe?: (result: T) => Attributes) =>
    tracer.startActiveSpan(
      `scrollback.store.${operation}`,
      { kind: SpanKind.CLIENT, attributes: { ...system, "db.operation.name": store.kind === "redis" ? dbOperation : operation } },
      (active) => inSpan(active, run, describe),
    );
  return {
    kind: store.kind,
    append: (userId, message, options) =>
      span(
        "append",
        "EVALSHA appendMessage",
        () => store.append(userId, message, options),
        (result) => ({
          "scrollback.message_id": result.message.id,
          "scrollback.duplicate": result.duplicate,
        }),
      ),
    load: (userId, options) =>
      span(
        "load",
        // One pipeline: the window and the drafts (readDrafts.lua).
        "LRANGE EVALSHA readDrafts",
        () => store.load(userId, options),
        (result) => ({ "scrollback.messages": result.messages.length, "scrollback.drafts": result.drafts.length }),
      ),
    search: (userId, options) =>
      span(
        "search",
        "LRANGE",
        () => store.search(userId, options),
        (result) => ({ "scrollback.messages": result.length }),
      ),
    clear: (userId, options) =>
      span(
        "clear",
        "EVALSHA clearHistory",
        () => store.clear(userId, options),
        (result) => ({ "scrollback.removed": result.removed }),
      ),
    appendDraft: (userId, chunk, options) =>
      span(
        "append_draft",
        "EVALSHA appendDraft",
        () => store.appendDraft(userId, chunk, options),
        (result) => ({ "scrollback.message_id": result.draft.id, "scrollback.draft_seq": result.draft.seq }),
      ),
    discardDraft: (userId, id, options) => span("discard_draft", "EVALSHA discardDraft", () => store.discardDraft(userId, id, options)),
    drafts: (userId) => span("drafts", "EVALSHA readDrafts", () => store.drafts(userId)),
    ping: () => store.ping(),
    ...(store.isFull ? { isFull: () => store.isFull?.() ?? Promise.resolve(false) } : {}),
    close: () => store.close(),
  };
}

/** The broadcaster, with a PRODUCER span around each fan-out. */
export function traceBroadcaster(broadcaster: Broadcaster, tracer: Tracer): Broadcaster {
  const span = (event: string, attributes: Attributes, run: () => void) =>
    tracer.startActiveSpan(
      "scrollback.fanout",
      { kind: SpanKind.PRODUCER, attributes: { "messaging.operation.type": "publish", "scrollback.event": event, ...attributes } },
      (active) => {
        try {
          run();
        } finally {
          active.end();
        }
      },
    );
  return {
    // When `announced`, the publish happened inside the store's span.
    messageAdded: (message, except, announced) =>
      span("message:new", { "scrollback.message_id": message.id }, () => broadcaster.messageAdded(message, except, announced)),
    historyCleared: (userId, except, announced) => span("history:cleared", {}, () => broadcaster.historyCleared(userId, except, announced)),
    draftUpdated: (userId, update, except, announced) =>
      span("draft:update", { "scrollback.message_id": update.id }, () => broadcaster.draftUpdated(userId, update, except, announced)),
    draftDiscarded: (userId, id, except, announced) =>
      span("draft:discarded", { "scrollback.message_id": id }, () => broadcaster.draftDiscarded(userId, id, except, announced)),
  };
}
