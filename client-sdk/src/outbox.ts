/**
 * Messages added but not yet acknowledged as stored, oldest first. The client
 * sends the head, one at a time, so a user's messages are stored in the order
 * they were written; every entry keeps its id across resends, so the server's
 * idempotency makes a resend of something already stored harmless.
 */
import type { Message, MessageMeta, Role } from "./protocol/events.js";

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
}

// Ids this tab settled are remembered (boundedly) so that merging with what
// other tabs saved does not bring them back.
const SETTLED_MEMORY = 1_000;

export class Outbox {
  #entries: OutboxEntry[] = [];
  #persisted?: { storage: KeyValueStorage; key: string };
  readonly #settled = new Set<string>();
  readonly #onChange: () => void;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
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
  abandon(error: unknown): void {
    const entries = this.#entries;
    this.#entries = [];
    this.#persisted = undefined;
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
    this.#onChange();
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
