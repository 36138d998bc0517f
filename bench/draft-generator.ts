/**
 * A load generator process for the `drafts` case: each user has a sending
 * connection on replica 1 that streams replies as drafts (`draft:append`,
 * PROTOCOL.md §4 Drafts; `inflight` replies at once, each `chunksPerDraft`
 * chunks, then stored with `message:add` under the draft's id, as an
 * assistant does) and a tab on replica 2 that receives every `draft:update`.
 * Both live in this process, so delivery latency is read on one clock; the
 * tab also checks that each draft's updates arrive in `seq` order.
 */
import { performance } from "node:perf_hooks";
import { createMessageId } from "@scrollback/client/protocol";
import type { Socket } from "socket.io-client";
import { readStamp, stampedContent } from "./fixtures.js";
import { serveMethods } from "./ipc.js";
import { type Ack, connectSocket, MeasuredWindow, type WindowStats } from "./measured-window.js";

export interface DraftPair {
  userId: string;
  senderUrl: string;
  receiverUrl: string;
}

export interface DraftLoopOptions {
  /** Replies streamed at once per sender. */
  inflight: number;
  chunkBytes: number;
  chunksPerDraft: number;
  /** Pause between two chunks of one reply (0: the next goes as soon as the ack is back). */
  chunkIntervalMs: number;
}

/** What `stop` reports: the chunk window (acks are chunks) and the tabs' order check. */
export interface DraftWindowStats extends WindowStats {
  /** Replies stored (the message:add that ends a draft). */
  stored: number;
  /** draft:update whose seq was not one more than the tab's last one for that draft. */
  outOfOrder: number;
}

let sockets: Socket[] = [];
let senders: Socket[] = [];
let running = false;
const measured = new MeasuredWindow();
let stored = 0;
let outOfOrder = 0;

function connectOne(url: string, userId: string, tab: boolean): Promise<Socket> {
  return connectSocket(url, userId, (socket) => {
    if (!tab) return;
    const lastSeq = new Map<string, number>();
    socket.on("draft:update", (update: { id: string; seq: number; chunk: string }) => {
      const known = lastSeq.get(update.id) ?? 0;
      lastSeq.set(update.id, update.seq);
      if (measured.delivered(readStamp(update.chunk)) && update.seq !== known + 1) outOfOrder++;
    });
    socket.on("message:new", (message: { id: string }) => lastSeq.delete(message.id));
  });
}

async function open({ plan }: { plan: DraftPair[] }): Promise<void> {
  for (const pair of plan) {
    const [sender, tab] = await Promise.all([
      connectOne(pair.senderUrl, pair.userId, false),
      connectOne(pair.receiverUrl, pair.userId, true),
    ]);
    sockets.push(sender, tab);
    senders.push(sender);
  }
}

/** One slot of a sender: streams a reply chunk by chunk, stores it, starts the next. */
function streamReplies(socket: Socket, options: DraftLoopOptions): void {
  let id = createMessageId();
  let sent = 0;
  const next = () => {
    if (!running) return;
    measured.outstanding++;
    if (sent === options.chunksPerDraft) {
      socket.emit("message:add", { id, role: "assistant", content: `reply ${id}` }, (answer: Ack) => {
        // The add ends the reply: counted as stored, not as a chunk's ack.
        if (measured.measuring && answer.ok) stored++;
        measured.answered(answer, () => {
          id = createMessageId();
          sent = 0;
          next();
        });
      });
      return;
    }
    sent++;
    const sentAt = performance.now();
    const after = options.chunkIntervalMs > 0 ? () => setTimeout(next, options.chunkIntervalMs) : next;
    socket.emit("draft:append", { id, chunk: stampedContent(sentAt, options.chunkBytes) }, (answer: Ack) =>
      measured.answered(answer, after, sentAt),
    );
  };
  next();
}

function start(options: DraftLoopOptions): void {
  running = true;
  for (const socket of senders) for (let i = 0; i < options.inflight; i++) streamReplies(socket, options);
}

function mark(): void {
  stored = 0;
  outOfOrder = 0;
  measured.mark();
}

async function stop({ drainMs }: { drainMs: number }): Promise<DraftWindowStats> {
  running = false;
  const stats: DraftWindowStats = { ...measured.freeze(), stored, outOfOrder };
  await measured.drain(drainMs);
  stats.lost = measured.outstanding;
  return stats;
}

function close(): void {
  for (const socket of sockets) socket.disconnect();
  sockets = [];
  senders = [];
}

serveMethods({ open, start, mark, stop, close }, async () => close());
