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
import { io, type Socket } from "socket.io-client";
import { readStamp, stampedContent } from "./fixtures.js";
import { Histogram } from "./histogram.js";
import { serveMethods } from "./ipc.js";
import type { WindowStats } from "./load-generator.js";

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

type Ack = { ok: boolean; error?: { code: string } };

let sockets: Socket[] = [];
let senders: Socket[] = [];
let running = false;
let measuring = false;
let markedAt = 0;
let cpuAtMark = 0;
let outstanding = 0;
let acks = 0;
let stored = 0;
let deliveries = 0;
let outOfOrder = 0;
let errors: Record<string, number> = {};
const ackLatency = new Histogram();
const deliveryLatency = new Histogram();
let settled: (() => void) | undefined;

function connectOne(url: string, userId: string, tab: boolean): Promise<Socket> {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 60_000, auth: { userId } });
  if (tab) {
    const lastSeq = new Map<string, number>();
    socket.on("draft:update", (update: { id: string; seq: number; chunk: string }) => {
      const known = lastSeq.get(update.id) ?? 0;
      lastSeq.set(update.id, update.seq);
      if (!measuring) return;
      deliveries++;
      if (update.seq !== known + 1) outOfOrder++;
      deliveryLatency.record(performance.now() - readStamp(update.chunk));
    });
    socket.on("message:new", (message: { id: string }) => lastSeq.delete(message.id));
  }
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => reject(new Error(`connect to ${url}: ${error.message}`)));
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

function count(answer: Ack, then: () => void, sentAt?: number): void {
  outstanding--;
  if (measuring) {
    if (!answer.ok) {
      const code = answer.error?.code ?? "UNKNOWN";
      errors[code] = (errors[code] ?? 0) + 1;
    } else if (sentAt !== undefined) {
      acks++;
      ackLatency.record(performance.now() - sentAt);
    } else stored++;
  }
  then();
  if (outstanding === 0) settled?.();
}

/** One slot of a sender: streams a reply chunk by chunk, stores it, starts the next. */
function streamReplies(socket: Socket, options: DraftLoopOptions): void {
  let id = createMessageId();
  let sent = 0;
  const next = () => {
    if (!running) return;
    outstanding++;
    if (sent === options.chunksPerDraft) {
      socket.emit("message:add", { id, role: "assistant", content: `reply ${id}` }, (answer: Ack) =>
        count(answer, () => {
          id = createMessageId();
          sent = 0;
          next();
        }),
      );
      return;
    }
    sent++;
    const sentAt = performance.now();
    const after = options.chunkIntervalMs > 0 ? () => setTimeout(next, options.chunkIntervalMs) : next;
    socket.emit("draft:append", { id, chunk: stampedContent(sentAt, options.chunkBytes) }, (answer: Ack) => count(answer, after, sentAt));
  };
  next();
}

function start(options: DraftLoopOptions): void {
  running = true;
  for (const socket of senders) for (let i = 0; i < options.inflight; i++) streamReplies(socket, options);
}

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

function mark(): void {
  acks = 0;
  stored = 0;
  deliveries = 0;
  outOfOrder = 0;
  errors = {};
  ackLatency.reset();
  deliveryLatency.reset();
  markedAt = performance.now();
  cpuAtMark = cpuMicros();
  measuring = true;
}

async function stop({ drainMs }: { drainMs: number }): Promise<DraftWindowStats> {
  running = false;
  measuring = false;
  const stats: DraftWindowStats = {
    elapsedMs: performance.now() - markedAt,
    cpuMicros: cpuMicros() - cpuAtMark,
    acks,
    errors,
    ackLatency: ackLatency.toData(),
    deliveries,
    deliveryLatency: deliveryLatency.toData(),
    lost: 0,
    stored,
    outOfOrder,
  };
  if (outstanding > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, drainMs);
      settled = () => {
        clearTimeout(timer);
        settled = undefined;
        resolve();
      };
    });
  }
  stats.lost = outstanding;
  return stats;
}

function close(): void {
  for (const socket of sockets) socket.disconnect();
  sockets = [];
  senders = [];
}

serveMethods({ open, start, mark, stop, close }, async () => close());
