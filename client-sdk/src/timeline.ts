/**
 * What the client has shown of the user's history: every message once, in
 * the history's order. After each (re)connect it catches up on what was
 * missed, holding live messages back meanwhile so nothing overtakes the
 * catch-up; it remembers a bounded set of seen ids to drop duplicates (a
 * message arriving live and in a catch-up, or as its own `add`'s answer).
 */
import type { Emitter } from "./emitter.js";
import type { Message } from "./protocol/events.js";
import { ScrollbackError } from "./scrollback-error.js";
import { retryDelay, sleep, type BackoffOptions } from "./timing.js";
import type { ClientSocket } from "./client-socket.js";
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

export class Timeline {
  readonly #options: TimelineOptions;
  readonly #seen = new Set<string>();
  #lastSeenId?: string;
  /** Live messages held back while a catch-up runs, so everything is emitted in order. */
  #heldBack?: Message[];

  constructor(options: TimelineOptions) {
    this.#options = options;
  }

  /** A message pushed live (`message:new`): shown now, or after the running catch-up. */
  receiveLive(message: Message): void {
    if (this.#heldBack) this.#heldBack.push(message);
    else this.receive(message);
  }

  /** Emits `message` unless this message was already shown. */
  receive(message: Message): void {
    if (this.#seen.has(message.id)) return;
    this.#remember(message.id);
    this.#lastSeenId = message.id;
    this.#options.events.emit("message", message);
  }

  /** The user's history was cleared: forget what was shown and emit `cleared`. */
  clear(): void {
    this.#seen.clear();
    this.#lastSeenId = undefined;
    this.#options.events.emit("cleared");
  }

  /** The connection ended: what was held back is lost with it (the next catch-up loads it). */
  endSession(): void {
    this.#heldBack = undefined;
  }

  /**
   * Loads what was missed since the last message seen (or the whole window on
   * first connect, or after a gap), then releases the live messages held back
   * meanwhile. Resolves false when the connection should be dropped.
   */
  async catchUp(socket: ClientSocket): Promise<boolean> {
    const { catchUp, closed, ackTimeoutMs, backoff, events } = this.#options;
    if (!catchUp) return true;
    this.#heldBack = [];
    let failures = 0;
    while (socket.connected && !closed.aborted) {
      const afterId = this.#lastSeenId;
      let answer;
      try {
        answer = await socket.timeout(ackTimeoutMs).emitWithAck("history:load", afterId === undefined ? {} : { afterId });
      } catch {
        return false;
      }
      if (answer.ok) {
        if (afterId === undefined || answer.gap) this.#reset(answer.messages);
        else for (const message of answer.messages) this.receive(message);
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

  #reset(messages: Message[]): void {
    this.#seen.clear();
    for (const message of messages) this.#remember(message.id);
    this.#lastSeenId = messages.at(-1)?.id;
    this.#options.events.emit("reset", messages);
  }

  #releaseHeldBack(): void {
    const held = this.#heldBack ?? [];
    this.#heldBack = undefined;
    for (const message of held) this.receive(message);
  }

  #remember(id: string): void {
    this.#seen.add(id);
    if (this.#seen.size > SEEN_IDS_KEPT) this.#seen.delete(this.#seen.values().next().value!);
  }
}
