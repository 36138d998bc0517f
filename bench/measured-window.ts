/**
 * What a load generator process measures from `mark` to `stop` (or from one
 * `sample` to the next): answers and their latency, deliveries and theirs,
 * refusals by code, its own CPU time; and the requests still unanswered,
 * which a drain waits for. load-generator.ts and draft-generator.ts each
 * hold one, and connect their sockets the same way.
 */
import { performance } from "node:perf_hooks";
import { io, type Socket } from "socket.io-client";
import { Histogram, type HistogramData } from "./histogram.js";

/** What a generator's `stop` reports for the measured window. */
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

/** A request's answer as the server acks it. */
export type Ack = { ok: boolean; error?: { code: string } };

/**
 * Opens a dev-mode connection of `userId` (WebSocket only, no reconnection);
 * `listen` adds its handlers before it connects.
 */
export function connectSocket(url: string, userId: string, listen: (socket: Socket) => void = () => {}): Promise<Socket> {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 60_000, auth: { userId } });
  listen(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => reject(new Error(`connect to ${url}: ${error.message}`)));
  });
}

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

export class MeasuredWindow {
  /** Whether answers and deliveries count: from `mark` until `freeze`. */
  measuring = false;
  /** Requests sent and not answered yet (the sender counts them up, `answered` down). */
  outstanding = 0;
  private acks = 0;
  private deliveries = 0;
  private errors: Record<string, number> = {};
  private readonly ackLatency = new Histogram();
  private readonly deliveryLatency = new Histogram();
  private markedAt = 0;
  private cpuAtMark = 0;
  private settled: (() => void) | undefined;

  /** Starts a window: every figure from zero, and counting. */
  mark(): void {
    this.acks = 0;
    this.deliveries = 0;
    this.errors = {};
    this.ackLatency.reset();
    this.deliveryLatency.reset();
    this.markedAt = performance.now();
    this.cpuAtMark = cpuMicros();
    this.measuring = true;
  }

  /** The figures since the mark, with what is outstanding now as `lost`. */
  figures(): WindowStats {
    return {
      elapsedMs: performance.now() - this.markedAt,
      cpuMicros: cpuMicros() - this.cpuAtMark,
      acks: this.acks,
      errors: this.errors,
      ackLatency: this.ackLatency.toData(),
      deliveries: this.deliveries,
      deliveryLatency: this.deliveryLatency.toData(),
      lost: this.outstanding,
    };
  }

  /** Stops counting and returns the figures since the mark. */
  freeze(): WindowStats {
    this.measuring = false;
    return this.figures();
  }

  /**
   * Counts the answer to a request: a refusal by its code, a success as an
   * ack with its latency when `sentAt` is given (without, the caller counts
   * it). Then runs `then` (which may send the next request) and ends a drain
   * once nothing is outstanding.
   */
  answered(answer: Ack, then: () => void, sentAt?: number): void {
    this.outstanding--;
    if (this.measuring) {
      if (!answer.ok) {
        const code = answer.error?.code ?? "UNKNOWN";
        this.errors[code] = (this.errors[code] ?? 0) + 1;
      } else if (sentAt !== undefined) {
        this.acks++;
        this.ackLatency.record(performance.now() - sentAt);
      }
    }
    then();
    if (this.outstanding === 0) this.settled?.();
  }

  /** Counts a delivery of something sent at `sentAt` (this process's clock); says whether it counted. */
  delivered(sentAt: number): boolean {
    if (!this.measuring) return false;
    this.deliveries++;
    this.deliveryLatency.record(performance.now() - sentAt);
    return true;
  }

  /** Waits until no request is outstanding, or `ms` at most. */
  drain(ms: number): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.settled = () => {
        clearTimeout(timer);
        this.settled = undefined;
        resolve();
      };
    });
  }
}
