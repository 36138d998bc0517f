/**
 * The scrollback client: one user's live history over Socket.IO, with an
 * outbox that resends every unacknowledged message (same id, in order) until
 * it is stored, and a catch-up after every reconnect.
 *
 * This file is the façade; the parts it assembles are:
 *   connection.ts     the connection loop (reconnects, replicas, credentials, status)
 *   timeline.ts       what was shown: catch-up, held-back live messages, seen ids
 *   outbox.ts         the messages not yet stored (persisted across pages)
 *   outbox-sender.ts  sending them, in order, until stored or refused
 *   drafts.ts         the replies being streamed, by the protocol's seq rule
 *   snapshot.ts       what a UI shows, as one immutable value (getSnapshot/subscribe)
 *   types.ts          the public types
 */
import { Connection } from "./connection.js";
import { DraftBook } from "./drafts.js";
import { Emitter } from "./emitter.js";
import { identityOf } from "./identity.js";
import { Outbox, type PendingMessage } from "./outbox.js";
import { OutboxSender } from "./outbox-sender.js";
import type { DraftState, Message, Role } from "./protocol/events.js";
import { createMessageId, MESSAGE_ID_PATTERN, MESSAGE_ID_RULE } from "./protocol/ids.js";
import { closedError, ScrollbackError } from "./scrollback-error.js";
import { type ScrollbackSnapshot, SnapshotStore } from "./snapshot.js";
import { Timeline } from "./timeline.js";
import { anySignal, type BackoffOptions } from "./timing.js";
import type {
  AddInput,
  CallOptions,
  ClientEvents,
  CloseOptions,
  ConnectionStatus,
  ConnectOptions,
  DraftAppendOptions,
  LiveDraft,
} from "./types.js";

const DEFAULT_ACK_TIMEOUT_MS = 8_000;
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/**
 * A connection to scrollback for one user. Create it with {@link connect}.
 */
export class ScrollbackClient {
  readonly #options: ConnectOptions;
  readonly #events = new Emitter<ClientEvents>();
  readonly #closed = new AbortController();
  // Declared before the fields below read it (the snapshot asks for its status from the start).
  readonly #connection: Connection;
  readonly #outbox = new Outbox({
    changed: () => this.#events.emit("outbox", this.#outbox.list()),
    delivery: () => this.#snapshot.refresh(),
    failed: (messages, error) => this.#snapshot.failed(messages, error),
  });
  readonly #snapshot = new SnapshotStore({
    events: this.#events,
    outbox: this.#outbox,
    // The connection starts last, after the snapshot: until then it is connecting.
    status: () => this.#connection?.status ?? "connecting",
    drafts: () => this.#drafts?.list() ?? [],
  });
  readonly #timeline: Timeline;
  readonly #drafts: DraftBook;
  readonly #sender: OutboxSender;

  /** @internal Use {@link connect}. */
  constructor(url: string | readonly string[], options: ConnectOptions) {
    const urls = typeof url === "string" ? [url] : [...url];
    if (urls.length === 0) throw new TypeError("connect: at least one server URL is needed");
    if ((options.token === undefined) === (options.userId === undefined)) {
      throw new TypeError("connect: pass exactly one of `token` (JWT or function) and `userId` (dev mode)");
    }
    this.#options = options;
    const events = this.#events;
    const closed = this.#closed.signal;
    const ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#timeline = new Timeline({ events, closed, catchUp: options.catchUp !== false, ackTimeoutMs, backoff });
    const timeline = this.#timeline;
    this.#drafts = new DraftBook({ events, isShown: (id) => timeline.hasShown(id), resync: () => timeline.resync() });
    timeline.attachDrafts(this.#drafts);
    this.#sender = new OutboxSender({
      outbox: this.#outbox,
      timeline: this.#timeline,
      events,
      whenReady: () => this.#connection.whenReady(),
      closed,
      ackTimeoutMs,
      backoff,
    });
    // Last: it starts connecting at once.
    this.#connection = new Connection(urls, options, {
      events,
      closed,
      timeline: this.#timeline,
      outbox: this.#outbox,
      onRestored: () => void this.#sender.flush(),
      onAnotherUser: () => this.close(),
      ackTimeoutMs,
      backoff,
    });
  }

  /** The current connection status. */
  get status(): ConnectionStatus {
    return this.#connection.status;
  }

  /**
   * The user this client speaks for, as its credentials say: the dev-mode
   * userId, or the token's `sub` (read, not verified: the server verifies).
   * Undefined until a token function first answered.
   */
  get userId(): string | undefined {
    const { userId, token } = this.#options;
    return userId ?? this.#connection.identity ?? (typeof token === "string" ? identityOf({ token }) : undefined);
  }

  /** Messages added but not yet stored, oldest first. */
  get pending(): PendingMessage[] {
    return this.#outbox.list();
  }

  /**
   * What a chat UI shows, frozen: the messages shown, the replies being
   * streamed (`drafts`), the user's messages not stored yet (with their
   * state) and the connection status. The same object
   * is returned until something in it changes, so it can be compared by
   * identity; {@link ScrollbackClient.subscribe} says when it did. Bound to
   * the client, so it can be passed on as it is.
   * @example
   * const { status, messages, drafts, pending } = client.getSnapshot();
   * // React: useSyncExternalStore(client.subscribe, client.getSnapshot)
   */
  readonly getSnapshot = (): ScrollbackSnapshot => this.#snapshot.get();

  /**
   * Calls `listener` (with no arguments) after each change of
   * {@link ScrollbackClient.getSnapshot}'s value; returns the function that
   * stops it. Bound to the client, like `getSnapshot`.
   * @example
   * const stop = client.subscribe(() => render(client.getSnapshot()));
   */
  readonly subscribe = (listener: () => void): (() => void) => this.#snapshot.subscribe(listener);

  /**
   * Removes a `failed` entry (a message refused for good) from the
   * snapshot's `pending`; true when there was one with this id.
   * @example
   * client.dismiss(entry.id);
   */
  dismiss(id: string): boolean {
    return this.#snapshot.dismiss(id);
  }

  /**
   * Listens to a client event; returns the function that stops listening.
   * @example
   * client.on("message", (message) => render(message));
   * client.on("status", (status) => (badge.textContent = status));
   */
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Stores a message. It waits in the outbox, survives reconnects and
   * `UNAVAILABLE`/`RATE_LIMITED` answers, and is resent with the same id until
   * the server acknowledges it, so it is stored exactly once.
   * Resolves with the stored message; rejects with a {@link ScrollbackError}
   * when the server refuses it for good (`INVALID_PAYLOAD`, `TOO_LARGE`…), on
   * `timeoutMs`, or with the signal's reason when `signal` aborts. A message
   * already sent when the caller gives up may still be stored; the snapshot
   * shows one given up as `failed` (`TIMEOUT` or `ABORTED`) until dismissed.
   * @example
   * const message = await client.add({ content: "hello" });
   */
  add(input: AddInput, options: CallOptions = {}): Promise<Message> {
    const id = input.id ?? createMessageId();
    const invalid =
      typeof input.content !== "string" || input.content.length === 0
        ? "content: must be a non-empty string"
        : !MESSAGE_ID_PATTERN.test(id)
          ? `id: must be ${MESSAGE_ID_RULE}`
          : undefined;
    if (invalid) return Promise.reject(new ScrollbackError("INVALID_PAYLOAD", invalid, { messageId: id }));
    if (this.#closed.signal.aborted) return Promise.reject(closedError());
    const refused = this.#connection.refused;
    if (refused) return Promise.reject(refused);

    const message: PendingMessage = { id, content: input.content };
    if (input.role !== undefined) message.role = input.role;
    if (input.meta !== undefined) message.meta = input.meta;
    const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const signal = anySignal(options.signal, timeout);
    return new Promise<Message>((resolve, reject) => {
      if (signal?.aborted) return reject(giveUpReason(options.signal, id));
      const onAbort = () => {
        const reason = giveUpReason(options.signal, id);
        // Refused, not just removed: the snapshot keeps it as `failed` like any other refusal.
        if (this.#outbox.refuse(id, asGiveUpError(reason, id))) reject(reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const settled = () => signal?.removeEventListener("abort", onAbort);
      this.#outbox.push({
        message,
        waiter: {
          resolve: (stored) => {
            settled();
            resolve(stored);
          },
          reject: (error) => {
            settled();
            reject(error);
          },
        },
      });
      void this.#sender.flush();
    });
  }

  /**
   * Appends `chunk` to the reply being streamed under `id` (`draft:append`,
   * PROTOCOL.md §4, Drafts), creating it with `role` (default `assistant`).
   * Every other connection of the user sees it grow (`draft` events, the
   * snapshot's `drafts`), and so does this client. Store the finished reply
   * with `add({ id, role, content })`: it replaces the draft everywhere.
   * Resolves with the draft's `seq` and its length in UTF-8 bytes. Not
   * resent on failure (a chunk is not idempotent): rejects with a
   * {@link ScrollbackError} — `DRAFT_CLOSED` once the message is stored,
   * `TOO_LARGE`, `TOO_MANY_DRAFTS`, `RATE_LIMITED`, `INVALID_PAYLOAD`, or
   * `TIMEOUT` (the chunk may then have been applied).
   * @example
   * const id = createMessageId();
   * for (const word of words) await client.appendDraft(id, `${word} `);
   * await client.add({ id, role: "assistant", content: words.join(" ") });
   */
  async appendDraft(id: string, chunk: string, options: DraftAppendOptions = {}): Promise<DraftState> {
    const invalid = !MESSAGE_ID_PATTERN.test(id)
      ? `id: must be ${MESSAGE_ID_RULE}`
      : typeof chunk !== "string" || chunk.length === 0
        ? "chunk: must be a non-empty string"
        : undefined;
    if (invalid) throw new ScrollbackError("INVALID_PAYLOAD", invalid, { messageId: id });
    const { role, ...call } = options;
    const payload = role === undefined ? { id, chunk } : { id, role, chunk };
    const answer = await this.#connection.request(call, (socket, ms) => socket.timeout(ms).emitWithAck("draft:append", payload));
    // The server tells this connection by the ack alone: apply it like an update.
    this.#timeline.receiveDraft({ id, role: role ?? "assistant", seq: answer.draft.seq, chunk });
    return answer.draft;
  }

  /**
   * Abandons the reply being streamed under `id` (`draft:discard`): it
   * disappears on every connection of the user. Resolves true when there
   * was a live draft under that id, false when there was none.
   * @example
   * await client.discardDraft(id);
   */
  async discardDraft(id: string, options: CallOptions = {}): Promise<boolean> {
    if (!MESSAGE_ID_PATTERN.test(id)) throw new ScrollbackError("INVALID_PAYLOAD", `id: must be ${MESSAGE_ID_RULE}`, { messageId: id });
    const answer = await this.#connection.request(options, (socket, ms) => socket.timeout(ms).emitWithAck("draft:discard", { id }));
    this.#timeline.receiveDiscarded(id);
    return answer.discarded;
  }

  /** The replies being streamed now, in the order they started (as the snapshot's `drafts`). */
  get drafts(): readonly LiveDraft[] {
    return this.#snapshot.get().drafts;
  }

  /**
   * Loads the kept history, oldest first (`history:load`).
   * @example
   * const { messages } = await client.load({ limit: 50 });
   */
  async load(query: { limit?: number; afterId?: string } = {}, options: CallOptions = {}): Promise<{ messages: Message[]; gap: boolean }> {
    const answer = await this.#connection.request(options, (socket, ms) => socket.timeout(ms).emitWithAck("history:load", query));
    return { messages: answer.messages, gap: answer.gap };
  }

  /**
   * Finds kept messages whose content contains `query` (case-insensitive), oldest first.
   * @example
   * const hits = await client.search("invoice", { role: "assistant" });
   */
  async search(query: string, filters: { role?: Role; limit?: number } = {}, options: CallOptions = {}): Promise<Message[]> {
    const answer = await this.#connection.request(options, (socket, ms) =>
      socket.timeout(ms).emitWithAck("history:search", { query, ...filters }),
    );
    return answer.messages;
  }

  /**
   * Deletes the user's history; resolves with how many messages were removed.
   * `cleared` is emitted when the server's `history:cleared` arrives, here as
   * on the user's other connections (possibly just after this resolves): that
   * event comes in Redis's order among other tabs' messages, the answer does
   * not, and emptying the view on the answer could drop a message stored
   * after the clear.
   * @example
   * await client.clear();
   */
  async clear(options: CallOptions = {}): Promise<number> {
    const answer = await this.#connection.request(options, (socket, ms) => socket.timeout(ms).emitWithAck("history:clear", {}));
    return answer.removed;
  }

  /**
   * Disconnects for good. Waiting `add`s reject with `CLOSED`; a persisted
   * outbox keeps them for the next page of this user, unless `discardOutbox`
   * says to delete it (a user signing out of a shared browser: what they
   * left unsent must not go out when they, or a page of theirs, come back).
   * @example
   * client.close({ discardOutbox: true });
   */
  close(options: CloseOptions = {}): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#outbox.abandon(closedError());
    this.#drafts.close();
    if (options.discardOutbox) this.#discardPersistedOutbox();
    this.#connection.close();
    this.#events.clear();
  }

  #discardPersistedOutbox(): void {
    const persisted = this.#connection.persistedOutbox();
    try {
      persisted?.storage.removeItem(persisted.key);
    } catch {
      // Storage that refuses (private mode) holds nothing to discard.
    }
  }
}

/**
 * Connects to scrollback. Returns at once; the client connects (and
 * reconnects) in the background, trying each of `url`'s servers in turn.
 * @example
 * import { connect } from "@scrollback/client";
 * const client = connect("https://chat.example.com", { token: () => fetchToken() });
 * client.on("message", (message) => console.log(message.content));
 * await client.add({ content: "hello" });
 */
export function connect(url: string | readonly string[], options: ConnectOptions): ScrollbackClient {
  return new ScrollbackClient(url, options);
}

function giveUpReason(signal: AbortSignal | undefined, messageId: string): unknown {
  return signal?.aborted ? signal.reason : new ScrollbackError("TIMEOUT", "not stored in time", { messageId });
}

/** What the snapshot's `failed` entry says of an add given up: the reason itself when it is a ScrollbackError, else `ABORTED`. */
function asGiveUpError(reason: unknown, messageId: string): ScrollbackError {
  if (reason instanceof ScrollbackError) return reason;
  const said = reason instanceof Error ? reason.message : String(reason);
  return new ScrollbackError("ABORTED", `given up: ${said}`, { messageId });
}
