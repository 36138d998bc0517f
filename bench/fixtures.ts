/**
 * The data every variant is measured with: message contents of a fixed size
 * that carry their send time (for delivery latency), and the full history
 * window the history:load case reads.
 */
import { createMessageId, type Message } from "@scrollback/client/protocol";

/** The user ids of a run: `bench-u0`, `bench-u1`, …, offset by `first`. */
export function benchUserId(index: number): string {
  return `bench-u${index}`;
}

const FILLER = "The quick brown fox jumps over the lazy dog. ".repeat(64);

/**
 * A message content of exactly `bytes` ASCII bytes that starts with the send
 * time, so the receiving end can compute the delivery latency.
 */
export function stampedContent(sentAtMs: number, bytes: number): string {
  const head = `${sentAtMs.toFixed(3)} `;
  return head + FILLER.slice(0, Math.max(1, bytes - head.length));
}

/** The send time written by {@link stampedContent}. */
export function readStamp(content: string): number {
  return Number.parseFloat(content.slice(0, content.indexOf(" ")));
}

/** A full window of `count` messages for `userId`, oldest first, as the stores keep them. */
export function historyWindow(userId: string, count: number, contentBytes: number): Message[] {
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, i) => ({
    id: createMessageId(start + i),
    userId,
    role: i % 2 === 0 ? "user" : "assistant",
    content: stampedContent(i, contentBytes),
    timestamp: new Date(start + i).toISOString(),
  }));
}
