/**
 * The client events (PROTOCOL.md §4). Each handler takes `unknown`
 * arguments, lets the history operations validate them, and always answers the ack
 * with `{ ok: true, ... }` or `{ ok: false, error }`.
 */
import { type ClientEventName, ERROR_CODES } from "@scrollback/client/protocol";
import type { Logger } from "pino";
import { invalidPayload, toAppError } from "../errors.js";
import type { HistoryOperations } from "../history-operations.js";
import type { EventSeries, Metrics } from "../metrics.js";
import type { ScrollbackSocket } from "./types.js";

type Ack = (answer: unknown) => void;

/** What a handler resolves with; spread into the ok ack. */
type Answer = object;

export interface HandlerContext {
  service: HistoryOperations;
  metrics: Metrics;
  logger: Logger;
  /** Counts handlers still running, so a shutdown can wait for their acks. */
  inFlight: { count: number };
}

/** Splits Socket.IO arguments into (payload, ack): the ack is the last argument when it is a function. */
export function splitArgs(args: unknown[]): { payload: unknown; ack?: Ack } {
  const last = args[args.length - 1];
  if (typeof last === "function") return { payload: args.length > 1 ? args[0] : undefined, ack: last as Ack };
  return { payload: args[0] };
}

const HANDLERS: Record<ClientEventName, (socket: ScrollbackSocket, service: HistoryOperations, payload: unknown) => Promise<Answer>> = {
  // Answers are built from named fields: a store's result may carry internal ones (RedisStore's `announced`).
  "message:add": async (socket, service, payload) => {
    const { message, duplicate } = await service.add(socket.data.userId, payload, socket.id);
    return { message, duplicate };
  },
  "history:load": async (socket, service, payload) => {
    const { messages, gap, drafts } = await service.load(socket.data.userId, payload);
    return { messages, gap, drafts };
  },
  "history:search": async (socket, service, payload) => ({ messages: await service.search(socket.data.userId, payload) }),
  "history:clear": async (socket, service, payload) => ({ removed: await service.clear(socket.data.userId, payload, socket.id) }),
  "draft:append": async (socket, service, payload) => ({ draft: await service.appendDraft(socket.data.userId, payload, socket.id) }),
  "draft:discard": async (socket, service, payload) => ({
    discarded: await service.discardDraft(socket.data.userId, payload, socket.id),
  }),
};

/** Counts a handled event and its receipt-to-ack latency, on series bound once per metrics (metrics.ts). */
function record(series: EventSeries, receivedAt: number): void {
  series.count.inc();
  series.duration.observe((performance.now() - receivedAt) / 1_000);
}

/** Registers every client event on a connection. */
export function registerEventHandlers(socket: ScrollbackSocket, context: HandlerContext): void {
  for (const [event, handle] of Object.entries(HANDLERS) as [ClientEventName, (typeof HANDLERS)[ClientEventName]][]) {
    // Untyped on purpose: clients may send anything, and zod decides.
    const series = context.metrics.eventSeries[event];
    (socket as unknown as { on(event: string, listener: (...args: unknown[]) => void): void }).on(event, (...args) => {
      const receivedAt = performance.now();
      const { payload, ack } = splitArgs(args);
      context.inFlight.count++;
      // A binary attachment sent as the whole payload reads as an empty object
      // to zod (so history:clear would clear); no event takes binary data.
      const handled =
        payload instanceof Uint8Array || payload instanceof ArrayBuffer
          ? Promise.reject(invalidPayload("payload: must be a JSON object, not binary data"))
          : handle(socket, context.service, payload);
      handled
        .then(
          (answer) => {
            ack?.({ ok: true, ...answer });
            record(series.ok, receivedAt);
          },
          (error: unknown) => {
            const appError = toAppError(error);
            if (appError.code === ERROR_CODES.INTERNAL) context.logger.error({ err: error, event }, "event failed");
            ack?.({ ok: false, error: appError.toBody() });
            record(series[appError.code], receivedAt);
          },
        )
        .finally(() => context.inFlight.count--);
    });
  }
}
