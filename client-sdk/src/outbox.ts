/**
 * Messages added but not yet acknowledged as stored, oldest first. The client
 * sends the head, one at a time, so a user's messages are stored in the order
 * they were written; every entry keeps its id across resends, so the server's
 * idempotency makes a resend of something already stored harmless.
 */
import type { Message, MessageMeta, Role } from "./protocol/events.js";
import type { ScrollbackError } from "./scrollback-error.js";

/** A message waiting in the outbox: an `add` whose id is fixed before the first send. */
export interface PendingMessage {
  id: string;
  content: string;
  role?: Role;
  meta?: MessageMeta;
}

/** Where a persisted outbox lives: `localStorage` and `sessionStorage` fit, as does any synchronous key-value map. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface OutboxEntry {
  message: PendingMessage;
  /** The caller waiting on `add`; absent for entries restored from storage. */
  waiter?: { resolve(message: Message): void; reject(error: unknown): void };
  /** Sent, and its answer awaited. */
  sending?: boolean;
  /** Why the last attempt failed (a retryable refusal, or no answer); it is resent. */
  lastError?: ScrollbackError;
}

/** What the outbox tells the client about. */
export interface OutboxHooks {
  /** Messages were added or taken out: persist, and emit `outbox`. */
  changed(): void;
  /** An entry was sent or answered (its delivery state, not the list, changed). */
  delivery(): void;
  /** Messages left the outbox for good without being stored: refused, or abandoned. */
  failed(messages: PendingMessage[], error: ScrollbackError): void;
}

// Ids this tab settled are remembered (boundedly) so that merging with what
// other tabs saved does not bring them back.
const SETTLED_MEMORY = 1_000;

export class Outbox {
  #entries: OutboxEntry[] = [];
  #persisted?: { storage: KeyValueStorage; key: string };
  readonly #settled = new Set<string>();
  readonly #hooks: OutboxHooks;

  constructor(hooks: OutboxHooks) {
    this.#hooks = hooks;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The oldest entry: the next to send. */
  head(): OutboxEntry | undefined {
    return this.#entries[0];
  }

  /** Copies of the waiting messages, oldest first. */
  list(): PendingMessage[] {
    return this.#entries.map((entry) => ({ ...entry.message }));
  }

  /** The entries themselves, oldest first, for reading their delivery state. */
  entries(): readonly OutboxEntry[] {
    return this.#entries;
  }

  /** `entry` was sent; its answer is awaited. */
  sending(entry: OutboxEntry): void {
    entry.sending = true;
    entry.lastError = undefined;
    this.#hooks.delivery();
  }

  /** `entry` was answered (or not in time): `error` says why it stays, undefined when it was stored. */
  answered(entry: OutboxEntry, error?: ScrollbackError): void {
    entry.sending = false;
    entry.lastError = error;
    this.#hooks.delivery();
  }

  /** Takes the entry with `id` out because the server refused it for good. */
  refuse(id: string, error: ScrollbackError): OutboxEntry | undefined {
    const entry = this.remove(id);
    if (entry) this.#hooks.failed([{ ...entry.message }], error);
    return entry;
  }

  push(entry: OutboxEntry): void {
    this.#entries.push(entry);
    this.#changed();
  }

  /** Takes the entry with `id` out (stored, refused or given up); undefined when it is not here. */
  remove(id: string): OutboxEntry | undefined {
    const index = this.#entries.findIndex((entry) => entry.message.id === id);
    if (index < 0) return undefined;
    const [entry] = this.#entries.splice(index, 1);
    this.#settled.add(id);
    if (this.#settled.size > SETTLED_MEMORY) {
      const oldest = this.#settled.values().next();
      if (!oldest.done) this.#settled.delete(oldest.value);
    }
    this.#changed();
    return entry;
  }

  /**
   * Starts persisting under `key`, first taking in what was saved there (by an
   * earlier page of this user, or another tab): those entries are older, so
   * they go first. Returns how many were restored.
   */
  persist(storage: KeyValueStorage, key: string): number {
    this.#persisted = { storage, key };
    const mine = new Set(this.#entries.map((entry) => entry.message.id));
    const restored = readStored(storage, key).filter((message) => !mine.has(message.id));
    this.#entries = [...restored.map((message) => ({ message })), ...this.#entries];
    this.#changed();
    return restored.length;
  }

  /** Rejects every waiting caller and forgets the entries here, leaving any persisted copy for the next page. */
  abandon(error: ScrollbackError): void {
    const entries = this.#entries;
    this.#entries = [];
    this.#persisted = undefined;
    if (entries.length > 0)
      this.#hooks.failed(
        entries.map((entry) => ({ ...entry.message })),
        error,
      );
    for (const entry of entries) entry.waiter?.reject(error);
  }

  #changed(): void {
    if (this.#persisted) {
      const { storage, key } = this.#persisted;
      const mine = new Set(this.#entries.map((entry) => entry.message.id));
      // Keep what other tabs saved since, minus what this tab has settled.
      const others = readStored(storage, key).filter((message) => !mine.has(message.id) && !this.#settled.has(message.id));
      const all = [...others, ...this.#entries.map((entry) => entry.message)];
      try {
        if (all.length === 0) storage.removeItem(key);
        else storage.setItem(key, JSON.stringify(all));
      } catch {
        // Persistence is best effort (quota, private mode): the in-memory outbox still works.
      }
    }
    this.#hooks.changed();
  }
}

function readStored(storage: KeyValueStorage, key: string): PendingMessage[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(key) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter(isPendingMessage) : [];
  } catch {
    return [];
  }
}

function isPendingMessage(value: unknown): value is PendingMessage {
  const candidate = value as PendingMessage;
  return typeof value === "object" && value !== null && typeof candidate.id === "string" && typeof candidate.content === "string";
}
