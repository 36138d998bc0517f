/**
 * What the client has shown of the user's history: every message once, in
 * the history's order. After each (re)connect it catches up on what was
 * missed, holding live messages back meanwhile so nothing overtakes the
 * catch-up; it remembers a bounded set of seen ids to drop duplicates (a
 * message arriving live and in a catch-up, or as its own `add`'s answer).
 *
 * The catch-up starts after a cursor: the newest message up to which the
 * client received everything in the server's order, by a load or live. Its
 * own acked adds do not move it: another tab's message stored just before
 * one of them may still be on its way when the connection drops, and a
 * cursor past it would skip it for good.
 *
 * Drafts (drafts.ts) ride along: their updates are held back with the live
 * messages, a load's drafts are applied after its messages, and a missed
 * update starts another catch-up on the live connection.
 */

import type { ClientSocket } from "./client-socket.js";
import type { DraftBook, DraftChunk } from "./drafts.js";
import type { Emitter } from "./emitter.js";
import type { Message } from "./protocol/events.js";
import { ScrollbackError } from "./scrollback-error.js";
import { type BackoffOptions, retryDelay, sleep } from "./timing.js";
import type { ClientEvents } from "./types.js";

const SEEN_IDS_KEPT = 2_000;

export interface TimelineOptions {
  /** Emits `message`, `reset`, `cleared` and `error`. */
  events: Emitter<ClientEvents>;
  /** Aborts when the client closes. */
  closed: AbortSignal;
  /** Whether to catch up at all (`catchUp: false` goes live at once). */
  catchUp: boolean;
  ackTimeoutMs: number;
  backoff: BackoffOptions;
}

/** What arrives live, kept in its order while a catch-up runs. */
type LiveEvent = { message: Message } | { draft: DraftChunk } | { discarded: string };

export class Timeline {
  readonly #options: TimelineOptions;
  readonly #seen = new Set<string>();
  /** Everything up to this id, in the server's order, was received; undefined when nothing (or after a clear). */
  #cursor?: string;
  /** A catch-up has shown the kept window once: later ones add to it rather than replace it. */
  #shownWindow = false;
  /** Live events held back while a catch-up runs, so everything is applied in order. */
  #heldBack?: LiveEvent[];
  /** Counts clears, so a catch-up can tell its answer was read before one. */
  #clears = 0;
  /** The session's socket, for a catch-up a missed draft update asks for. */
  #socket?: ClientSocket;
  /** A missed draft update asked for a catch-up while one was running: run another after it. */
  #resyncAfter = false;
  #drafts?: DraftBook;

  constructor(options: TimelineOptions) {
    this.#options = options;
  }

  /** The drafts kept beside the timeline (set once, by the client). */
  attachDrafts(drafts: DraftBook): void {
    this.#drafts = drafts;
  }

  /** Whether a message with this id was shown (among the last ids remembered). */
  hasShown(id: string): boolean {
    return this.#seen.has(id);
  }

  /** A draft chunk (`draft:update`, or the client's own acked append): applied now, or after the running catch-up. */
  receiveDraft(chunk: DraftChunk): void {
    if (this.#heldBack) this.#heldBack.push({ draft: chunk });
    else this.#drafts?.apply(chunk);
  }

  /** `draft:discarded` (or the client's own discard): applied now, or after the running catch-up. */
  receiveDiscarded(id: string): void {
    if (this.#heldBack) this.#heldBack.push({ discarded: id });
    else this.#drafts?.discarded(id);
  }

  /**
   * A draft update was missed: load again (the answer carries the drafts).
   * During a catch-up, once it is done; without a connection, the next one's catch-up does it.
   */
  resync(): void {
    const socket = this.#socket;
    if (!socket?.connected || this.#options.closed.aborted) return;
    if (this.#heldBack) {
      this.#resyncAfter = true;
      return;
    }
    void this.catchUp(socket).then((caughtUp) => {
      if (!caughtUp && this.#socket === socket) socket.disconnect();
    });
  }

  /**
   * A message pushed live (`message:new`): shown now, or after the running
   * catch-up. A session receives them in the server's order, so each moves
   * the cursor.
   */
  receiveLive(message: Message): void {
    if (this.#heldBack) this.#heldBack.push({ message });
    else this.#receiveInOrder(message);
  }

  /**
   * The client's own add, as the server stored it: shown now, unless already
   * shown. The cursor stays: messages stored just before it may not have
   * arrived yet.
   */
  receiveAcked(message: Message): void {
    this.#show(message);
  }

  /**
   * The user's history was cleared: forget what was shown and emit `cleared`.
   * During a catch-up, what it held back is older than the clear and goes
   * too, and the catch-up starts over (its answer may predate the clear).
   */
  clear(): void {
    this.#seen.clear();
    this.#cursor = undefined;
    this.#clears++;
    // Held-back draft events stay: a clear does not touch drafts.
    if (this.#heldBack) this.#heldBack = this.#heldBack.filter((event) => !("message" in event));
    this.#options.events.emit("cleared");
  }

  /** The connection ended: what was held back is lost with it (the next catch-up loads it). */
  endSession(): void {
    this.#heldBack = undefined;
    this.#socket = undefined;
    this.#resyncAfter = false;
  }

  /**
   * Loads what was missed after the cursor (or the whole window on first
   * connect), then releases the live messages held back meanwhile. The whole
   * window replaces what was shown (`reset`) on first connect, after a gap,
   * and when a missed message belongs before one already shown. Resolves
   * false when the connection should be dropped.
   */
  async catchUp(socket: ClientSocket): Promise<boolean> {
    const { catchUp, closed, ackTimeoutMs, backoff, events } = this.#options;
    this.#socket = socket;
    if (!catchUp) return true;
    this.#heldBack = [];
    this.#resyncAfter = false;
    let failures = 0;
    let replaceAll = !this.#shownWindow;
    while (socket.connected && !closed.aborted) {
      const afterId = replaceAll ? undefined : this.#cursor;
      const clearsBefore = this.#clears;
      const answer = await socket
        .timeout(ackTimeoutMs)
        .emitWithAck("history:load", afterId === undefined ? {} : { afterId })
        .catch(() => undefined);
      if (answer === undefined) return false;
      if (this.#clears !== clearsBefore) {
        // Cleared while loading: the answer may hold cleared messages; load the window as it is now.
        replaceAll = true;
        continue;
      }
      if (answer.ok) {
        if (!replaceAll && !answer.gap && this.#wouldReorder(answer.messages)) {
          // Shown out of the server's order already (an own add acked before another
          // tab's earlier message arrived): only the whole window can put it right.
          replaceAll = true;
          continue;
        }
        if (replaceAll || answer.gap) this.#reset(answer.messages);
        else for (const message of answer.messages) this.#receiveInOrder(message);
        // After the messages: a draft whose message was just shown is over, not loaded.
        this.#drafts?.loaded(answer.drafts ?? []);
        this.#releaseHeldBack();
        return true;
      }
      const error = ScrollbackError.fromBody(answer.error);
      if (!error.retryable) {
        // Not worth dropping the connection over: sends still work; say so and go on live.
        events.emit("error", error);
        this.#releaseHeldBack();
        return true;
      }
      await sleep(retryDelay(error.retryAfterMs, failures++, backoff), closed);
    }
    return false;
  }

  /** Emits `message` unless this message was already shown. */
  #show(message: Message): void {
    if (this.#seen.has(message.id)) return;
    this.#remember(message.id);
    this.#options.events.emit("message", message);
    // Its draft, if any, is over: `draftEnd` comes after every `message` listener ran.
    this.#drafts?.stored(message.id);
  }

  /** A message that arrived in the server's order after everything before it: shown, and the cursor moves to it. */
  #receiveInOrder(message: Message): void {
    this.#show(message);
    this.#cursor = message.id;
  }

  /** Whether `missed` (in the server's order) has a message not shown yet before one already shown. */
  #wouldReorder(missed: readonly Message[]): boolean {
    const firstUnseen = missed.findIndex((message) => !this.#seen.has(message.id));
    return firstUnseen >= 0 && missed.slice(firstUnseen + 1).some((message) => this.#seen.has(message.id));
  }

  #reset(messages: Message[]): void {
    this.#seen.clear();
    for (const message of messages) this.#remember(message.id);
    this.#cursor = messages.at(-1)?.id;
    this.#shownWindow = true;
    this.#options.events.emit("reset", messages);
    for (const message of messages) this.#drafts?.stored(message.id);
  }

  #releaseHeldBack(): void {
    const held = this.#heldBack ?? [];
    this.#heldBack = undefined;
    for (const event of held) {
      if ("message" in event) this.#receiveInOrder(event.message);
      else if ("draft" in event) this.#drafts?.apply(event.draft);
      else this.#drafts?.discarded(event.discarded);
    }
    if (this.#resyncAfter) {
      this.#resyncAfter = false;
      this.resync();
    }
  }

  #remember(id: string): void {
    this.#seen.add(id);
    if (this.#seen.size <= SEEN_IDS_KEPT) return;
    const oldest = this.#seen.values().next();
    if (!oldest.done) this.#seen.delete(oldest.value);
  }
}
