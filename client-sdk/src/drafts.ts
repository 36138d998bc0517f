/**
 * The user's live drafts (PROTOCOL.md §4, Drafts): replies being streamed,
 * kept by the protocol's rule. Per id the `seq` last applied is known; an
 * update one above it is appended, `seq` 1 for an unknown id creates the
 * draft, one not above it is ignored (a load had it already), any other is a
 * gap and asks for a reload (`history:load` answers the drafts). A draft
 * ends when its message is shown (`stored`), on `draft:discarded` or a
 * reload without it (`discarded`), or when no update reached it for its
 * `idleMs` on this client's own clock (`idle`). A clear of the history does
 * not touch drafts, here as on the server.
 *
 * The timeline feeds it, in the server's order and after any running
 * catch-up; it emits `draft` and `draftEnd`.
 *
 * What the server sends is checked, cheaply, before it is kept, and kept
 * within bounds no server setting exceeds (PROTOCOL.md §4, Drafts, client
 * rules): an update or loaded draft of the wrong shape is ignored (never
 * thrown), a draft whose content would pass {@link MAX_DRAFT_CONTENT_LENGTH}
 * ends as `discarded`, and beyond {@link MAX_LIVE_DRAFTS} the oldest draft
 * ends as `discarded`.
 */
import type { Emitter } from "./emitter.js";
import type { Draft, Role } from "./protocol/events.js";
import { MESSAGE_ID_PATTERN } from "./protocol/ids.js";
import type { ClientEvents, DraftEndReason, LiveDraft } from "./types.js";

/** How long a draft lives without an update before this client learns the server's `DRAFT_IDLE_MS` (its default). */
export const DEFAULT_DRAFT_IDLE_MS = 30_000;

/**
 * The most live drafts kept: the ceiling of the server's
 * `MAX_DRAFTS_PER_USER`. A new draft beyond it ends the oldest.
 */
export const MAX_LIVE_DRAFTS = 100;

/**
 * The longest content a draft may reach, in UTF-16 code units: the ceiling
 * of the server's `MAX_MESSAGE_BYTES` (900000 UTF-8 bytes, never fewer
 * bytes than code units), so no draft a server accepts goes over it.
 */
export const MAX_DRAFT_CONTENT_LENGTH = 900_000;

/** The longest `idleMs` kept: setTimeout's own limit (the server's `DRAFT_IDLE_MS` is at most 600000). */
const MAX_IDLE_MS = 2 ** 31 - 1;

const ROLES: ReadonlySet<unknown> = new Set<Role>(["user", "assistant", "system"]);

const isSeq = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/** Whether `value` is an object with a message id, a known role and a positive seq: what every draft payload carries. */
function hasDraftIdentity(value: unknown): value is { id: string; role: Role; seq: number } {
  const candidate = value as { id?: unknown; role?: unknown; seq?: unknown } | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.id === "string" &&
    MESSAGE_ID_PATTERN.test(candidate.id) &&
    ROLES.has(candidate.role) &&
    isSeq(candidate.seq)
  );
}

/** Whether `update` is a `draft:update` payload (or an acked append) as the protocol has it. */
export function isDraftChunk(update: unknown): update is DraftChunk {
  if (!hasDraftIdentity(update)) return false;
  const candidate = update as Partial<DraftChunk>;
  return (
    typeof candidate.chunk === "string" &&
    (candidate.idleMs === undefined || (Number.isSafeInteger(candidate.idleMs) && candidate.idleMs > 0 && candidate.idleMs <= MAX_IDLE_MS))
  );
}

/** Whether `draft` is a loaded draft as the protocol has it (within the content bound). */
function isLoadedDraft(draft: unknown): draft is Draft {
  if (!hasDraftIdentity(draft)) return false;
  const { content } = draft as Partial<Draft>;
  return typeof content === "string" && content.length <= MAX_DRAFT_CONTENT_LENGTH;
}

/** One chunk to apply: a `draft:update`, or this client's own acked `draft:append` (no `idleMs` then). */
export interface DraftChunk {
  id: string;
  role: Role;
  seq: number;
  chunk: string;
  idleMs?: number;
}

export interface DraftBookParts {
  /** Emits `draft` and `draftEnd`. */
  events: Emitter<ClientEvents>;
  /** Whether a message with this id is shown: its draft is over. */
  isShown(id: string): boolean;
  /** An update was missed: reload the drafts (a catch-up). */
  resync(): void;
}

type Kept = { draft: LiveDraft; timer: ReturnType<typeof setTimeout> };

export class DraftBook {
  readonly #parts: DraftBookParts;
  /** In the order this client first saw them. */
  readonly #drafts = new Map<string, Kept>();
  #idleMs = DEFAULT_DRAFT_IDLE_MS;
  /** Built when asked for after a change (undefined): an update costs no copy of every draft. */
  #list: readonly LiveDraft[] | undefined = Object.freeze([]);

  constructor(parts: DraftBookParts) {
    this.#parts = parts;
  }

  /** The live drafts, frozen, in the order they were first seen; the same array until one changes. */
  list(): readonly LiveDraft[] {
    this.#list ??= Object.freeze([...this.#drafts.values()].map((kept) => kept.draft));
    return this.#list;
  }

  /** A chunk, by the protocol's rule; ignored when it is not one (`update` comes off the wire). */
  apply(update: unknown): void {
    if (!isDraftChunk(update)) return;
    if (update.idleMs !== undefined) this.#idleMs = update.idleMs;
    if (this.#parts.isShown(update.id)) return;
    const known = this.#drafts.get(update.id)?.draft;
    if (known && update.seq <= known.seq) return;
    if (known ? update.seq !== known.seq + 1 : update.seq !== 1) {
      this.#parts.resync();
      return;
    }
    if ((known?.content.length ?? 0) + update.chunk.length > MAX_DRAFT_CONTENT_LENGTH) {
      this.#end(update.id, "discarded");
      return;
    }
    const draft = Object.freeze({
      id: update.id,
      // A draft keeps the role of its first chunk.
      role: known?.role ?? update.role,
      content: (known?.content ?? "") + update.chunk,
      seq: update.seq,
    });
    this.#keep(draft);
  }

  /** `draft:discarded`, or this client's own discard. */
  discarded(id: unknown): void {
    if (typeof id === "string") this.#end(id, "discarded");
  }

  /** A message with this id is shown: its draft, if any, is over. */
  stored(id: string): void {
    this.#end(id, "stored");
  }

  /**
   * The drafts a load answered (read at one moment): they replace what is
   * known, except where this client already applied more; a known draft the
   * load did not have was discarded or went idle meanwhile.
   */
  loaded(drafts: readonly Draft[]): void {
    const live = new Set<string>();
    for (const loaded of Array.isArray(drafts) ? drafts.slice(-MAX_LIVE_DRAFTS) : []) {
      if (!isLoadedDraft(loaded) || this.#parts.isShown(loaded.id)) continue;
      live.add(loaded.id);
      const known = this.#drafts.get(loaded.id)?.draft;
      if (known && known.seq >= loaded.seq) this.#keep(known);
      else this.#keep(Object.freeze({ id: loaded.id, role: loaded.role, content: loaded.content, seq: loaded.seq }));
    }
    for (const id of [...this.#drafts.keys()]) if (!live.has(id)) this.#end(id, "discarded");
  }

  /** Stops every idle timer (the client closed); drafts are not reported ended. */
  close(): void {
    for (const { timer } of this.#drafts.values()) clearTimeout(timer);
    this.#drafts.clear();
    this.#list = Object.freeze([]);
  }

  /** Keeps `draft` (restarting its idle timer) and emits `draft` when it is new or grew. */
  #keep(draft: LiveDraft): void {
    const previous = this.#drafts.get(draft.id);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => this.#end(draft.id, "idle"), this.#idleMs);
    // An idle timer must not keep a Node process alive on its own.
    (timer as { unref?: () => void }).unref?.();
    this.#drafts.set(draft.id, { draft, timer });
    if (previous?.draft === draft) return;
    this.#list = undefined;
    this.#parts.events.emit("draft", draft);
    // One more than the bound: the oldest (first seen) goes.
    if (!previous && this.#drafts.size > MAX_LIVE_DRAFTS) this.#end(this.#drafts.keys().next().value as string, "discarded");
  }

  #end(id: string, reason: DraftEndReason): void {
    const kept = this.#drafts.get(id);
    if (!kept) return;
    clearTimeout(kept.timer);
    this.#drafts.delete(id);
    this.#list = undefined;
    this.#parts.events.emit("draftEnd", id, reason);
  }
}
