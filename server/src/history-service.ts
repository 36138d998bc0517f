/**
 * The four operations of the protocol, shared by the Socket.IO handlers and
 * the HTTP API: validate the payload (zod, at the edge), call the store within
 * its deadline, measure it, and fan out what changed.
 */
import { createMessageId, type Draft, type DraftState, type DraftUpdate, type Message } from "@scrollback/client/protocol";
import {
  type AddMessageInput,
  addMessageSchema,
  clearHistorySchema,
  draftAppendSchema,
  draftDiscardSchema,
  loadHistorySchema,
  META_MAX_KEY_LENGTH,
  metaKeyLength,
  searchHistorySchema,
} from "@scrollback/client/protocol/schemas";
import { tooLarge, unavailable } from "./errors.js";
import type { HistoryOperations } from "./history-operations.js";
import type { Metrics, StoreOperation } from "./metrics.js";
import { parsePayload } from "./parse-payload.js";
import {
  type AppendResult,
  type ClearResult,
  DRAFT_DEFAULTS,
  type DraftAppendResult,
  type DraftDiscardResult,
  type LoadResult,
  STORE_DEADLINE_MS,
  type Store,
} from "./store/store.js";
import { withTimeout } from "./with-timeout.js";

/** Pushes changes to a user's connections on every replica. */
export interface Broadcaster {
  /**
   * `message:new` to the user's connections, except `exceptSocketId`.
   * `announced`: the store already published it within its write
   * (`AppendResult.announced`) to every replica, this one included, so
   * nothing is left to send; the call still marks the fan-out in traces.
   */
  messageAdded(message: Message, exceptSocketId?: string, announced?: boolean): void;
  /** `history:cleared` to the user's connections, except `exceptSocketId`; `announced` as above (`ClearResult.announced`). */
  historyCleared(userId: string, exceptSocketId?: string, announced?: boolean): void;
  /** `draft:update` to the user's connections, except `exceptSocketId`; `announced` as above (`DraftAppendResult.announced`). */
  draftUpdated(userId: string, update: DraftUpdate, exceptSocketId?: string, announced?: boolean): void;
  /** `draft:discarded` to the user's connections, except `exceptSocketId`; `announced` as above. */
  draftDiscarded(userId: string, id: string, exceptSocketId?: string, announced?: boolean): void;
}

export interface HistoryServiceOptions {
  store: Store;
  metrics: Metrics;
  broadcaster: Broadcaster;
  maxMessageBytes: number;
  /** Largest `meta`, in UTF-8 bytes of its JSON. */
  maxMetaBytes: number;
  /** DRAFT_IDLE_MS, told to clients in every `draft:update` (default: the store's default). */
  draftIdleMs?: number;
  now?: () => number;
}

export class HistoryService implements HistoryOperations {
  private readonly now: () => number;

  constructor(private readonly options: HistoryServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /** `message:add`; `originSocketId` is left out of the fan-out. */
  async add(userId: string, payload: unknown, originSocketId?: string): Promise<AppendResult> {
    const input = parsePayload(addMessageSchema, payload);
    this.checkSize(input);
    const now = this.now();
    const message = {
      id: input.id ?? createMessageId(now),
      role: input.role,
      content: input.content,
      timestamp: new Date(now).toISOString(),
      ...(input.meta === undefined ? {} : { meta: input.meta }),
    };
    const { store, broadcaster } = this.options;
    // A store built to announce appends (RedisStore, app.ts) has already told
    // every replica, this one included, within its write; the broadcaster is told so.
    const fanOut = (result: AppendResult) => {
      if (!result.duplicate) broadcaster.messageAdded(result.message, originSocketId, result.announced === true);
    };
    const options = { freshId: input.id === undefined, origin: originSocketId };
    const result = await this.timed("append", () => store.append(userId, message, options), fanOut);
    fanOut(result);
    // Stored but short of replicas: told like any stored message, answered UNAVAILABLE.
    if (result.unconfirmed) {
      const { replicas, wanted } = result.unconfirmed;
      throw unavailable(`stored on the master but on ${replicas} of ${wanted} replicas in time`);
    }
    return result;
  }

  /** `history:load`. */
  async load(userId: string, payload: unknown): Promise<LoadResult> {
    const input = parsePayload(loadHistorySchema, payload);
    return this.timed("load", () => this.options.store.load(userId, input));
  }

  /** `history:search`. */
  async search(userId: string, payload: unknown): Promise<Message[]> {
    const input = parsePayload(searchHistorySchema, payload);
    return this.timed("search", () => this.options.store.search(userId, input));
  }

  /**
   * `history:clear`. Every connection of the user hears `history:cleared`,
   * the one that asked included: its view must empty at the clear's place
   * among the adds it receives on the same channel, which its ack (on
   * another Redis connection) cannot tell. `originSocketId` only says the
   * call came over Socket.IO (tracing.ts).
   */
  async clear(userId: string, payload: unknown, _originSocketId?: string): Promise<number> {
    parsePayload(clearHistorySchema, payload);
    const fanOut = (result: ClearResult) => this.options.broadcaster.historyCleared(userId, undefined, result.announced === true);
    const result = await this.timed("clear", () => this.options.store.clear(userId), fanOut);
    fanOut(result);
    return result.removed;
  }

  /**
   * `draft:append`: `payload` is `{ id, role?, chunk }` (the HTTP API puts
   * the path's id in). A chunk over MAX_MESSAGE_BYTES on its own is refused
   * before the store is asked; the store checks the whole draft.
   */
  async appendDraft(userId: string, payload: unknown, originSocketId?: string): Promise<DraftState> {
    const input = parsePayload(draftAppendSchema, payload);
    const { maxMessageBytes, store, broadcaster, draftIdleMs = DRAFT_DEFAULTS.idleMs } = this.options;
    if (Buffer.byteLength(input.chunk, "utf8") > maxMessageBytes) throw tooLarge(`chunk: over ${maxMessageBytes} UTF-8 bytes`);
    const fanOut = ({ draft, announced }: DraftAppendResult) =>
      broadcaster.draftUpdated(
        userId,
        { id: draft.id, role: input.role, seq: draft.seq, chunk: input.chunk, idleMs: draftIdleMs },
        originSocketId,
        announced === true,
      );
    const result = await this.timed("draft_append", () => store.appendDraft(userId, input, { origin: originSocketId }), fanOut);
    fanOut(result);
    return result.draft;
  }

  /** `draft:discard`. */
  async discardDraft(userId: string, payload: unknown, originSocketId?: string): Promise<boolean> {
    const { id } = parsePayload(draftDiscardSchema, payload);
    const fanOut = ({ discarded, announced }: DraftDiscardResult) => {
      if (discarded) this.options.broadcaster.draftDiscarded(userId, id, originSocketId, announced === true);
    };
    const result = await this.timed("draft_discard", () => this.options.store.discardDraft(userId, id, { origin: originSocketId }), fanOut);
    fanOut(result);
    return result.discarded;
  }

  /** The live drafts. */
  async drafts(userId: string): Promise<Draft[]> {
    return this.timed("drafts", () => this.options.store.drafts(userId));
  }

  /**
   * The bounds of a stored element (PROTOCOL.md §7), checked here so that
   * every transport refuses alike. `meta` is measured as the JSON the store
   * writes, so escaping counts against it.
   */
  private checkSize(input: AddMessageInput): void {
    const { maxMessageBytes, maxMetaBytes } = this.options;
    if (Buffer.byteLength(input.content, "utf8") > maxMessageBytes) {
      throw tooLarge(`content: over ${maxMessageBytes} UTF-8 bytes`);
    }
    if (input.meta === undefined) return;
    if (Object.keys(input.meta).some((key) => metaKeyLength(key) > META_MAX_KEY_LENGTH)) {
      throw tooLarge(`meta: a key over ${META_MAX_KEY_LENGTH} characters`);
    }
    if (Buffer.byteLength(JSON.stringify(input.meta), "utf8") > maxMetaBytes) {
      throw tooLarge(`meta: over ${maxMetaBytes} UTF-8 bytes of JSON`);
    }
  }

  /**
   * Runs a store call within the protocol's deadline and records its latency.
   * A write that lands after the deadline was answered UNAVAILABLE, yet it is
   * stored: `lateSuccess` still tells the user's connections about it (a
   * retry would only come back as a duplicate, which fans nothing out).
   */
  private async timed<T>(operation: StoreOperation, call: () => Promise<T>, lateSuccess?: (result: T) => void): Promise<T> {
    const startedAt = performance.now();
    try {
      return await withTimeout(call(), {
        ms: STORE_DEADLINE_MS,
        onTimeout: () => {
          throw unavailable("the store did not answer in time");
        },
        lateSuccess,
      });
    } finally {
      this.options.metrics.storeSeries[operation].observe((performance.now() - startedAt) / 1_000);
    }
  }
}
