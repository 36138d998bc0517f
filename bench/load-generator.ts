/**
 * A load generator process: opens Socket.IO connections and drives a closed
 * loop over them (each sender keeps `inflight` requests outstanding and sends
 * the next as soon as one is acknowledged). Both connections of a user live
 * in the same generator, so the delivery latency of `message:new` is read
 * on one clock.
 */
import { performance } from "node:perf_hooks";
import { createMessageId } from "@scrollback/client/protocol";
import type { Socket } from "socket.io-client";
import { readStamp, stampedContent } from "./fixtures.js";
import { serveMethods } from "./ipc.js";
import { type Ack, connectSocket, MeasuredWindow, type WindowStats } from "./measured-window.js";

export interface PlannedSocket {
  url: string;
  userId: string;
  /** Sends requests (true) or only listens for `message:new` (false). */
  sender: boolean;
}

export interface LoopOptions {
  event: "message:add" | "history:load";
  inflight: number;
  contentBytes: number;
  /** Send an idempotency id with each add, as the SDK does for safe retries. */
  clientIds: boolean;
}

let sockets: Socket[] = [];
let senders: Socket[] = [];
let running = false;
const measured = new MeasuredWindow();

function connectOne(planned: PlannedSocket): Promise<Socket> {
  return connectSocket(planned.url, planned.userId, (socket) => {
    if (planned.sender) return;
    socket.on("message:new", (message: { content: string }) => void measured.delivered(readStamp(message.content)));
  });
}

/** Opens every planned connection, `concurrency` handshakes at a time; resolves with the time it took. */
async function open({ plan, concurrency }: { plan: PlannedSocket[]; concurrency: number }): Promise<{ ms: number }> {
  const started = performance.now();
  const opened: Socket[] = new Array(plan.length);
  let next = 0;
  const chain = async () => {
    while (next < plan.length) {
      const index = next++;
      opened[index] = await connectOne(plan[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, chain));
  sockets.push(...opened);
  senders.push(...opened.filter((_, index) => plan[index]!.sender));
  return { ms: performance.now() - started };
}

function payloadFor(options: LoopOptions): unknown {
  if (options.event === "history:load") return {};
  const content = stampedContent(performance.now(), options.contentBytes);
  return options.clientIds ? { id: createMessageId(), content } : { content };
}

/** Sends one request on `socket`; `then` runs after its ack. */
function send(socket: Socket, options: LoopOptions, then: () => void): void {
  const sentAt = performance.now();
  measured.outstanding++;
  socket.emit(options.event, payloadFor(options), (answer: Ack) => measured.answered(answer, then, sentAt));
}

function start(options: LoopOptions): void {
  running = true;
  for (const socket of senders) {
    const loop = () => {
      if (running) send(socket, options, loop);
    };
    for (let i = 0; i < options.inflight; i++) loop();
  }
}

function mark(): void {
  measured.mark();
}

/** Stops sending, freezes the window's figures, then waits up to `drainMs` for the outstanding acks. */
async function stop({ drainMs }: { drainMs: number }): Promise<WindowStats> {
  running = false;
  clearInterval(pacer);
  const stats = measured.freeze();
  await measured.drain(drainMs);
  stats.lost = measured.outstanding;
  return stats;
}

/** Sends exactly `count` requests (spread over the senders, closed loop) and waits for every ack. */
async function exactly({ count, ...options }: LoopOptions & { count: number }): Promise<{ ok: number; failed: number }> {
  let remaining = count;
  let ok = 0;
  let failed = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exactly(${count}): ${remaining + measured.outstanding} unanswered`)), 60_000);
    const loop = (socket: Socket) => {
      if (remaining === 0) return;
      remaining--;
      measured.outstanding++;
      socket.emit(options.event, payloadFor(options), (answer: Ack) => {
        measured.outstanding--;
        if (answer.ok) ok++;
        else failed++;
        if (ok + failed === count) {
          clearTimeout(timer);
          resolve();
        } else loop(socket);
      });
    };
    for (const socket of senders) for (let i = 0; i < options.inflight; i++) loop(socket);
  });
  return { ok, failed };
}

/**
 * An open loop (the soak): `rate` requests per second spread over the
 * senders, whatever the answers take. Past `maxOutstanding` unanswered
 * requests a tick sends nothing and counts the requests it skipped, so a
 * server that falls behind shows as skipped sends rather than a queue that
 * grows without bound in this process.
 */
let pacer: NodeJS.Timeout | undefined;
let skipped = 0;
const TICK_MS = 20;
function pace({ rate, maxOutstanding, ...options }: LoopOptions & { rate: number; maxOutstanding: number }): void {
  running = true;
  let owed = 0;
  let next = 0;
  clearInterval(pacer);
  pacer = setInterval(() => {
    owed += (rate * TICK_MS) / 1000;
    for (; owed >= 1 && senders.length > 0; owed--) {
      if (measured.outstanding >= maxOutstanding) {
        if (measured.measuring) skipped++;
        continue;
      }
      send(senders[next++ % senders.length]!, options, () => {});
    }
  }, TICK_MS);
}

/** The figures since the last mark (or sample), then a new mark: a rolling window that keeps the loop running. */
function sample(): WindowStats & { skipped: number } {
  const stats = { ...measured.figures(), skipped };
  skipped = 0;
  mark();
  return stats;
}

/**
 * Users connecting and leaving (the soak): every `tickMs`, `perTick` new
 * listening connections of users from the pool, on the given servers in
 * turn; each closes after `lifetimeMs`.
 */
let churner: NodeJS.Timeout | undefined;
let churning: { socket: Socket; closeAt: number }[] = [];
const churnCounts = { opened: 0, closed: 0, failed: 0 };
function churn({
  urls,
  users,
  perTick,
  tickMs,
  lifetimeMs,
}: {
  urls: string[];
  users: string[];
  perTick: number;
  tickMs: number;
  lifetimeMs: number;
}): void {
  let next = 0;
  clearInterval(churner);
  churner = setInterval(() => {
    const now = performance.now();
    churning = churning.filter(({ socket, closeAt }) => {
      if (closeAt > now) return true;
      socket.disconnect();
      churnCounts.closed++;
      return false;
    });
    for (let i = 0; i < perTick; i++, next++) {
      connectOne({ url: urls[next % urls.length]!, userId: users[next % users.length]!, sender: false }).then(
        (socket) => {
          churnCounts.opened++;
          churning.push({ socket, closeAt: performance.now() + lifetimeMs });
        },
        () => churnCounts.failed++,
      );
    }
  }, tickMs);
}

function stopChurn(): typeof churnCounts {
  clearInterval(churner);
  for (const { socket } of churning) socket.disconnect();
  churnCounts.closed += churning.length;
  churning = [];
  return churnCounts;
}

function close(): void {
  clearInterval(pacer);
  running = false;
  stopChurn();
  for (const socket of sockets) socket.disconnect();
  sockets = [];
  senders = [];
}

serveMethods({ open, start, mark, stop, exactly, pace, sample, churn, stopChurn, close }, async () => close());
