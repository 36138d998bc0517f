/**
 * The embedded store: the same lists, rules and TTLs as RedisStore, kept in
 * this process's memory. One process only: nothing is shared between
 * replicas and everything is lost on restart.
 */
import type { Draft, Message } from "@scrollback/client/protocol";
import { draftClosed, tooLarge, tooManyDrafts, unavailable } from "../errors.js";
import { sortDrafts } from "./draft-codec.js";
import { searchWindow, selectWindow } from "./history-window.js";
import { decodeElement, decodeElements, encodeElement } from "./message-codec.js";
import {
  type AppendOptions,
  type AppendResult,
  type ClearResult,
  type DraftAppendResult,
  type DraftChunk,
  type DraftDiscardResult,
  draftBounds,
  type LoadOptions,
  type LoadResult,
  type NewMessage,
  type SearchOptions,
  type Store,
  type StoreSettings,
} from "./store.js";

interface StoredList {
  elements: string[];
  /** The sequence number of `elements[0]`; an element's number minus `head` is its index. */
  head: number;
  /** Each kept element's served id → its sequence number (the latest element with that id), as appendMessage.lua keeps. */
  ids: Map<string, number>;
  expiresAt: number;
}

export interface MemoryStoreOptions extends StoreSettings {
  /** The clock, in milliseconds; tests move it forward. */
  now?: () => number;
  /** How often expired histories are swept from memory. */
  sweepIntervalMs?: number;
}

/**
 * A user's drafts, as the Redis hash keeps them: one expiry for all, restarted
 * by each chunk. Each knows its length in UTF-8 bytes (appendDraft.lua's
 * `length`), so a chunk costs the same whatever the draft's size (V8 joins
 * strings lazily; measuring the whole text per chunk would not be).
 */
interface StoredDrafts {
  byId: Map<string, Omit<Draft, "id"> & { bytes: number }>;
  expiresAt: number;
}

export class MemoryStore implements Store {
  readonly kind = "memory";
  private readonly lists = new Map<string, StoredList>();
  private readonly userDrafts = new Map<string, StoredDrafts>();
  private readonly drafting: ReturnType<typeof draftBounds>;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: MemoryStoreOptions) {
    this.now = options.now ?? Date.now;
    this.drafting = draftBounds(options);
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    this.sweeper.unref();
  }

  async append(userId: string, message: NewMessage, options: AppendOptions = {}): Promise<AppendResult> {
    const list = this.live(userId);
    const sequence = options.freshId ? undefined : list?.ids.get(message.id);
    const element = sequence === undefined ? undefined : list?.elements[sequence - list.head];
    const kept = element === undefined ? null : decodeElement(element, userId);
    if (kept) return { message: kept, duplicate: true };
    // The draft streamed under this id ends as the message is stored (appendMessage.lua's HDEL).
    this.userDrafts.get(userId)?.byId.delete(message.id);
    this.push(userId, encodeElement(message), message.id);
    return { message: { ...message, userId }, duplicate: false };
  }

  /**
   * Appends an element exactly as another program would (the Python app's
   * RPUSH + LTRIM + EXPIRE), without any checks. For imports and tests.
   */
  appendRaw(userId: string, element: string): void {
    this.push(userId, element, decodeElement(element, userId)?.id);
  }

  async load(userId: string, options?: LoadOptions): Promise<LoadResult> {
    return { ...selectWindow(this.readWindow(userId), options), drafts: this.liveDrafts(userId) };
  }

  async appendDraft(userId: string, chunk: DraftChunk): Promise<DraftAppendResult> {
    const { idleMs, maxPerUser, maxBytes } = this.drafting;
    // An id the index holds was stored by an add: the reply is over (appendDraft.lua).
    if (this.live(userId)?.ids.has(chunk.id)) throw draftClosed(chunk.id);
    const now = this.now();
    const stored = this.draftsOf(userId) ?? { byId: new Map(), expiresAt: 0 };
    const existing = stored.byId.get(chunk.id);
    let current = existing && now - existing.updatedAt <= idleMs ? existing : undefined;
    if (!current) {
      for (const [id, draft] of stored.byId) if (id !== chunk.id && now - draft.updatedAt > idleMs) stored.byId.delete(id);
      const others = [...stored.byId.keys()].filter((id) => id !== chunk.id).length;
      if (others >= maxPerUser) throw tooManyDrafts(maxPerUser);
      current = { role: chunk.role, content: "", seq: 0, updatedAt: now, bytes: 0 };
    }
    const length = current.bytes + Buffer.byteLength(chunk.chunk, "utf8");
    if (length > maxBytes) throw tooLarge(`content: the draft would be over ${maxBytes} UTF-8 bytes`);
    const next = { role: current.role, content: current.content + chunk.chunk, seq: current.seq + 1, updatedAt: now, bytes: length };
    stored.byId.set(chunk.id, next);
    stored.expiresAt = now + idleMs;
    this.userDrafts.set(userId, stored);
    return { draft: { id: chunk.id, seq: next.seq, length } };
  }

  async discardDraft(userId: string, id: string): Promise<DraftDiscardResult> {
    const stored = this.draftsOf(userId);
    const draft = stored?.byId.get(id);
    stored?.byId.delete(id);
    return { discarded: draft !== undefined && this.now() - draft.updatedAt <= this.drafting.idleMs };
  }

  async drafts(userId: string): Promise<Draft[]> {
    return this.liveDrafts(userId);
  }

  async search(userId: string, options: SearchOptions): Promise<Message[]> {
    return searchWindow(this.readWindow(userId), options);
  }

  async clear(userId: string): Promise<ClearResult> {
    const list = this.live(userId);
    this.lists.delete(userId);
    return { removed: list?.elements.length ?? 0 };
  }

  /** Seconds until the user's history expires, or null when there is none (for tests; not part of `Store`). */
  async ttlSeconds(userId: string): Promise<number | null> {
    const list = this.live(userId);
    // Redis's TTL rounds to the nearest second; do the same.
    return list ? Math.round((list.expiresAt - this.now()) / 1000) : null;
  }

  /** Answers while the store is open, like a Redis PING; after close() it is gone (so /readyz and scrollback_store_up say so). */
  async ping(): Promise<void> {
    if (this.closed) throw unavailable("the memory store is closed");
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.lists.clear();
    this.userDrafts.clear();
  }

  /** Appends, trims to the window and restarts the TTL; `id` is the element's served id (none for one that is not served). */
  private push(userId: string, element: string, id: string | undefined): void {
    const list = this.live(userId) ?? { elements: [], head: 0, ids: new Map<string, number>(), expiresAt: 0 };
    list.elements.push(element);
    if (id !== undefined) list.ids.set(id, list.head + list.elements.length - 1);
    const excess = list.elements.length - this.options.historyMax;
    if (excess > 0) {
      for (const [offset, dropped] of list.elements.splice(0, excess).entries()) {
        const droppedId = decodeElement(dropped, userId)?.id;
        // Unless a later element holds the same id.
        if (droppedId !== undefined && list.ids.get(droppedId) === list.head + offset) list.ids.delete(droppedId);
      }
      list.head += excess;
    }
    list.expiresAt = this.now() + this.options.historyTtlSeconds * 1000;
    this.lists.set(userId, list);
  }

  /** The user's live drafts, deleting those idle past DRAFT_IDLE_MS (as readDrafts.lua does). */
  private liveDrafts(userId: string): Draft[] {
    const stored = this.draftsOf(userId);
    if (!stored) return [];
    const now = this.now();
    const drafts: Draft[] = [];
    for (const [id, draft] of stored.byId) {
      if (now - draft.updatedAt > this.drafting.idleMs) stored.byId.delete(id);
      else drafts.push({ id, role: draft.role, content: draft.content, seq: draft.seq, updatedAt: draft.updatedAt });
    }
    return sortDrafts(drafts);
  }

  /** The user's drafts unless the whole set has expired. */
  private draftsOf(userId: string): StoredDrafts | undefined {
    const stored = this.userDrafts.get(userId);
    if (stored && stored.expiresAt <= this.now()) {
      this.userDrafts.delete(userId);
      return undefined;
    }
    return stored;
  }

  private readWindow(userId: string): Message[] {
    const { messages, skipped } = decodeElements(this.live(userId)?.elements ?? [], userId);
    if (skipped > 0) this.options.onSkippedElements?.(skipped);
    return messages;
  }

  /** The user's list unless it has expired (expired ones are dropped on sight, as Redis does). */
  private live(userId: string): StoredList | undefined {
    const list = this.lists.get(userId);
    if (list && list.expiresAt <= this.now()) {
      this.lists.delete(userId);
      return undefined;
    }
    return list;
  }

  private sweep(): void {
    for (const userId of this.lists.keys()) this.live(userId);
    for (const userId of this.userDrafts.keys()) this.draftsOf(userId);
  }
}
