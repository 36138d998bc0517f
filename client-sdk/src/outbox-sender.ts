/**
 * Sends the outbox, head first and one message at a time, so a user's
 * messages are stored in the order they were written. A message leaves the
 * outbox only when the server stored it or refused it for good; silence and
 * retryable refusals keep it at the head, to be resent with the same id.
 */

import type { ClientSocket } from "./client-socket.js";
import type { Emitter } from "./emitter.js";
import type { Outbox, OutboxEntry } from "./outbox.js";
import { ScrollbackError } from "./scrollback-error.js";
import type { Timeline } from "./timeline.js";
import { type BackoffOptions, retryDelay, sleep } from "./timing.js";
import type { ClientEvents } from "./types.js";

export interface OutboxSenderParts {
  outbox: Outbox;
  /** Shows each stored message (once) as the server answered it. */
  timeline: Timeline;
  /** Emits `error` for refused messages no caller waits on (restored from storage). */
  events: Emitter<ClientEvents>;
  /** Resolves with the caught-up socket, or undefined when there will be none. */
  whenReady: () => Promise<ClientSocket | undefined>;
  /** Aborts when the client closes. */
  closed: AbortSignal;
  ackTimeoutMs: number;
  backoff: BackoffOptions;
}

export class OutboxSender {
  readonly #parts: OutboxSenderParts;
  #flushing = false;

  constructor(parts: OutboxSenderParts) {
    this.#parts = parts;
  }

  /** Sends the outbox's head until it is empty; one runner at a time keeps the order. */
  async flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    const { outbox, timeline, events, closed, backoff } = this.#parts;
    let failures = 0;
    try {
      for (let entry = outbox.head(); entry; entry = outbox.head()) {
        const socket = await this.#parts.whenReady();
        if (!socket) return;
        if (outbox.head() !== entry) continue;
        outbox.sending(entry);
        const answer = await this.#send(socket, entry);
        if (answer === undefined) {
          outbox.answered(entry, new ScrollbackError("TIMEOUT", "no answer in time; resending", { messageId: entry.message.id }));
          // No answer in time: a replica that froze looks exactly like this. Drop it; the
          // next connection (maybe to another replica) resends the same id.
          socket.disconnect();
          continue;
        }
        if (answer.ok) {
          failures = 0;
          // Shown before it leaves the outbox: a snapshot taken in between finds it in the window (and not pending), never nowhere.
          timeline.receiveAcked(answer.message);
          outbox.remove(entry.message.id)?.waiter?.resolve(answer.message);
          continue;
        }
        const error = ScrollbackError.fromBody(answer.error, entry.message.id);
        if (error.retryable) {
          outbox.answered(entry, error);
          await sleep(retryDelay(error.retryAfterMs, failures++, backoff), closed);
          continue;
        }
        const refused = outbox.refuse(entry.message.id, error);
        if (refused?.waiter) refused.waiter.reject(error);
        else if (refused) events.emit("error", error);
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #send(socket: ClientSocket, entry: OutboxEntry) {
    try {
      return await socket.timeout(this.#parts.ackTimeoutMs).emitWithAck("message:add", entry.message);
    } catch {
      return undefined;
    }
  }
}
