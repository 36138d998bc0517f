/**
 * A load generator process: opens Socket.IO connections and drives a closed
 * loop over them (each sender keeps `inflight` requests outstanding and sends
 * the next as soon as one is acknowledged). Both connections of a user live
 * in the same generator, so the delivery latency of `message:new` is read
 * on one clock.
 */
import { performance } from "node:perf_hooks";
import { createMessageId } from "@scrollback/client/protocol";
import { io, type Socket } from "socket.io-client";
import { readStamp, stampedContent } from "./fixtures.js";
import { Histogram, type HistogramData } from "./histogram.js";
import { serveMethods } from "./ipc.js";

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

/** What `stop` reports for the measured window. */
export interface WindowStats {
  elapsedMs: number;
  /** This generator's own CPU time over the window, in microseconds: the share of the cores the clients took. */
  cpuMicros: number;
  acks: number;
  errors: Record<string, number>;
  ackLatency: HistogramData;
  deliveries: number;
  deliveryLatency: HistogramData;
  /** Requests still unanswered after the drain. */
  lost: number;
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
let deliveries = 0;
let errors: Record<string, number> = {};
const ackLatency = new Histogram();
const deliveryLatency = new Histogram();
let settled: (() => void) | undefined;

function connectOne(planned: PlannedSocket): Promise<Socket> {
  const socket = io(planned.url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    timeout: 60_000,
    auth: { userId: planned.userId },
  });
  if (!planned.sender) {
    socket.on("message:new", (message: { content: string }) => {
      if (!measuring) return;
      deliveries++;
      deliveryLatency.record(performance.now() - readStamp(message.content));
    });
  }
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => reject(new Error(`connect to ${planned.url}: ${error.message}`)));
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
  outstanding++;
  socket.emit(options.event, payloadFor(options), (answer: Ack) => {
    outstanding--;
    if (measuring) {
      if (answer.ok) {
        acks++;
        ackLatency.record(performance.now() - sentAt);
      } else {
        const code = answer.error?.code ?? "UNKNOWN";
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
    then();
    if (outstanding === 0) settled?.();
  });
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

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

function mark(): void {
  acks = 0;
  deliveries = 0;
  errors = {};
  ackLatency.reset();
  deliveryLatency.reset();
  markedAt = performance.now();
  cpuAtMark = cpuMicros();
  measuring = true;
}

/** Stops sending, freezes the window's figures, then waits up to `drainMs` for the outstanding acks. */
async function stop({ drainMs }: { drainMs: number }): Promise<WindowStats> {
  running = false;
  clearInterval(pacer);
  measuring = false;
  const stats: WindowStats = {
    elapsedMs: performance.now() - markedAt,
    cpuMicros: cpuMicros() - cpuAtMark,
    acks,
    errors,
    ackLatency: ackLatency.toData(),
    deliveries,
    deliveryLatency: deliveryLatency.toData(),
    lost: 0,
  };
  await drain(drainMs);
  stats.lost = outstanding;
  return stats;
}

function drain(ms: number): Promise<void> {
  if (outstanding === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    settled = () => {
      clearTimeout(timer);
      settled = undefined;
      resolve();
    };
  });
}

/** Sends exactly `count` requests (spread over the senders, closed loop) and waits for every ack. */
async function exactly({ count, ...options }: LoopOptions & { count: number }): Promise<{ ok: number; failed: number }> {
  let remaining = count;
  let ok = 0;
  let failed = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exactly(${count}): ${remaining + outstanding} unanswered`)), 60_000);
    const loop = (socket: Socket) => {
      if (remaining === 0) return;
      remaining--;
      outstanding++;
      socket.emit(options.event, payloadFor(options), (answer: Ack) => {
        outstanding--;
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
      if (outstanding >= maxOutstanding) {
        if (measuring) skipped++;
        continue;
      }
      send(senders[next++ % senders.length]!, options, () => {});
    }
  }, TICK_MS);
}

/** The figures since the last mark (or sample), then a new mark: a rolling window that keeps the loop running. */
function sample(): WindowStats & { skipped: number } {
  const stats = {
    elapsedMs: performance.now() - markedAt,
    cpuMicros: cpuMicros() - cpuAtMark,
    acks,
    errors,
    ackLatency: ackLatency.toData(),
    deliveries,
    deliveryLatency: deliveryLatency.toData(),
    lost: outstanding,
    skipped,
  };
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
