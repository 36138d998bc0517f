/**
 * What a chat UI shows, as one immutable value: the messages shown (in the
 * history's order), the replies being streamed, the user's messages not
 * stored yet with where each stands, and the connection status. A new value is made only when something
 * in it changed, so UIs can compare by identity (React's
 * `useSyncExternalStore` requires exactly that).
 *
 * It follows the client's own events (`reset`, `message`, `cleared`,
 * `status`, `outbox`, `draft`, `draftEnd`), the outbox's delivery states and
 * the kept drafts; nothing here talks to the server.
 */
import type { Emitter } from "./emitter.js";
import type { Outbox, OutboxEntry, PendingMessage } from "./outbox.js";
import type { ErrorCode } from "./protocol/errors.js";
import type { Message, MessageMeta, Role } from "./protocol/events.js";
import type { ClientErrorCode, ScrollbackError } from "./scrollback-error.js";
import type { ClientEvents, ConnectionStatus, LiveDraft } from "./types.js";

/** How many shown messages a snapshot keeps (the newest): at least the largest window a server keeps (`HISTORY_MAX` ≤ 1000). */
export const SNAPSHOT_MESSAGES_KEPT = 1_000;
/** How many refused messages a snapshot keeps until dismissed (the newest). */
export const SNAPSHOT_FAILED_KEPT = 100;

/**
 * Where a message not stored yet stands:
 * `queued` waits for its turn or a connection (with `error` when an earlier
 * attempt failed and it will be resent), `sending` was sent and its answer is
 * awaited, `failed` was refused for good or given up (`error` says why:
 * `TOO_LARGE`…, or `UNAUTHORIZED`/`CLOSED` when the client stopped) and is
 * not resent by this client.
 */
export type PendingState = "queued" | "sending" | "failed";

/** A user's message not stored yet, as a snapshot shows it. */
export interface PendingEntry {
  readonly id: string;
  readonly content: string;
  readonly role?: Role;
  readonly meta?: Readonly<MessageMeta>;
  readonly state: PendingState;
  /** `failed`: why it was refused; `queued`: why the last attempt failed (it is resent). */
  readonly error?: { readonly code: ErrorCode | ClientErrorCode; readonly message: string };
}

/**
 * What a chat UI shows, frozen. `getSnapshot()` returns the same object until
 * something in it changes.
 */
export interface ScrollbackSnapshot {
  /** The connection status (`online` once connected and caught up). */
  readonly status: ConnectionStatus;
  /**
   * The messages shown, in the history's order: the kept window loaded on
   * (re)connect plus every message since (live, or the user's own once
   * stored); emptied on `cleared`; the newest {@link SNAPSHOT_MESSAGES_KEPT}.
   */
  readonly messages: readonly Message[];
  /**
   * The replies being streamed (PROTOCOL.md §4, Drafts), each its text so
   * far, in the order they started: a draft leaves when its message enters
   * `messages` (never both at once), is discarded, or goes idle.
   */
  readonly drafts: readonly LiveDraft[];
  /**
   * The user's messages not stored yet, oldest first: the outbox (`queued`,
   * `sending`), then those refused for good or given up (`failed`) until
   * `client.dismiss(id)`. A message is never both here and in `messages`.
   */
  readonly pending: readonly PendingEntry[];
}

/** The snapshot of a client that does not exist (yet): offline, nothing shown. */
export const EMPTY_SNAPSHOT: ScrollbackSnapshot = Object.freeze({
  status: "offline",
  messages: Object.freeze([]),
  drafts: Object.freeze([]),
  pending: Object.freeze([]),
});

export interface SnapshotParts {
  events: Emitter<ClientEvents>;
  outbox: Outbox;
  status: () => ConnectionStatus;
  /** The live drafts (the same array while none changed). */
  drafts: () => readonly LiveDraft[];
}

type Failed = { message: PendingMessage; error: ScrollbackError };

export class SnapshotStore {
  readonly #parts: SnapshotParts;
  readonly #listeners = new Set<() => void>();
  #messages: readonly Message[] = Object.freeze([]);
  #shownIds = new Set<string>();
  #failed: Failed[] = [];
  /** Frozen pending entries by id, reused while unchanged so they keep their identity too. */
  #entries = new Map<string, PendingEntry>();
  #snapshot: ScrollbackSnapshot;

  constructor(parts: SnapshotParts) {
    this.#parts = parts;
    this.#snapshot = Object.freeze({
      status: parts.status(),
      messages: this.#messages,
      drafts: Object.freeze([]),
      pending: Object.freeze([]),
    });
    const { events } = parts;
    events.on("reset", (messages) => this.#show(messages.map(frozenMessage)));
    events.on("message", (message) => this.#show([...this.#messages, frozenMessage(message)]));
    events.on("cleared", () => this.#show([]));
    events.on("status", () => this.refresh());
    events.on("outbox", () => this.refresh());
    events.on("draft", () => this.refresh());
    events.on("draftEnd", () => this.refresh());
  }

  get(): ScrollbackSnapshot {
    return this.#snapshot;
  }

  subscribe(listener: () => void): () => void {
    // Wrapped: each subscription is its own, so ending one never ends another of the same function.
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  /** Messages left the outbox unstored for good: shown as `failed` until dismissed. */
  failed(messages: PendingMessage[], error: ScrollbackError): void {
    this.#failed = [...this.#failed, ...messages.map((message) => ({ message, error }))].slice(-SNAPSHOT_FAILED_KEPT);
    this.refresh();
  }

  /** Forgets a `failed` entry; true when there was one with that id. */
  dismiss(id: string): boolean {
    const before = this.#failed.length;
    this.#failed = this.#failed.filter((failed) => failed.message.id !== id);
    if (this.#failed.length === before) return false;
    this.refresh();
    return true;
  }

  /** Rebuilds the snapshot and tells the listeners, if anything visible changed. */
  refresh(): void {
    const previous = this.#snapshot;
    const pending = this.#pending();
    const status = this.#parts.status();
    // A draft whose message is shown is over, even before the draft book has heard of it.
    const drafts = this.#parts.drafts().filter((draft) => !this.#shownIds.has(draft.id));
    if (
      status === previous.status &&
      this.#messages === previous.messages &&
      sameItems(drafts, previous.drafts) &&
      sameItems(pending, previous.pending)
    )
      return;
    this.#snapshot = Object.freeze({
      status,
      messages: this.#messages,
      drafts: sameItems(drafts, previous.drafts) ? previous.drafts : Object.freeze(drafts),
      pending: sameItems(pending, previous.pending) ? previous.pending : Object.freeze(pending),
    });
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (error) {
        // As with the client's events: a throwing listener must not stop the others.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  #show(messages: Message[]): void {
    // One entry per id (UIs key on it): a window holding an id twice (written to the list by
    // another program) shows its first.
    const ids = new Set<string>();
    const unique = messages.filter((message) => {
      if (ids.has(message.id)) return false;
      ids.add(message.id);
      return true;
    });
    this.#messages = Object.freeze(unique.slice(-SNAPSHOT_MESSAGES_KEPT));
    this.#shownIds = new Set(this.#messages.map((message) => message.id));
    this.refresh();
  }

  #pending(): PendingEntry[] {
    const entries = new Map<string, PendingEntry>();
    const pending: PendingEntry[] = [];
    const add = (message: PendingMessage, state: PendingState, error: ScrollbackError | undefined) => {
      // Stored and shown already (its ack and the outbox's removal are two steps): not pending.
      if (this.#shownIds.has(message.id) || entries.has(message.id)) return;
      const known = this.#entries.get(message.id);
      const entry =
        known && known.state === state && known.error?.code === error?.code && known.error?.message === error?.message
          ? known
          : pendingEntry(message, state, error);
      entries.set(message.id, entry);
      pending.push(entry);
    };
    for (const entry of this.#parts.outbox.entries()) add(entry.message, stateOf(entry), entry.lastError);
    for (const { message, error } of this.#failed) add(message, "failed", error);
    this.#entries = entries;
    return pending;
  }
}

function stateOf(entry: OutboxEntry): PendingState {
  return entry.sending ? "sending" : "queued";
}

function pendingEntry(message: PendingMessage, state: PendingState, error: ScrollbackError | undefined): PendingEntry {
  const entry: { -readonly [K in keyof PendingEntry]: PendingEntry[K] } = { id: message.id, content: message.content, state };
  if (message.role !== undefined) entry.role = message.role;
  if (message.meta !== undefined) entry.meta = Object.freeze({ ...message.meta });
  if (error) entry.error = Object.freeze({ code: error.code, message: error.message });
  return Object.freeze(entry);
}

/** A frozen copy: the snapshot's messages cannot be changed by whoever reads them, nor by the event listeners that got the originals. */
function frozenMessage(message: Message): Message {
  const copy = { ...message };
  if (message.meta !== undefined) copy.meta = Object.freeze({ ...message.meta });
  return Object.freeze(copy);
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}
