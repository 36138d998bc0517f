/**
 * Fail fast while Redis hangs. A frozen Redis (SIGSTOP, a stuck fork, a
 * network black hole) keeps its TCP connection open, so without this every
 * command would wait out its full timeout and then sit in the socket, to be
 * run whenever Redis wakes up. After the first command times out, the guard
 * refuses further commands at once, without sending them (PROTOCOL.md §4:
 * while Redis is known to be unreachable nothing is queued for later), and
 * probes with PING until Redis answers again.
 *
 * A command that may block by design (an add's `WAIT`) is run with
 * `runBlocking`: its own slowness proves nothing, so instead of tripping the
 * guard it makes the guard send its probe, whose silence does.
 */
import { unavailable } from "../errors.js";

/** ioredis rejects a command that outlived `commandTimeout` with this message. */
const TIMEOUT_MESSAGE = "Command timed out";

/** Pause between probes that failed at once (connection closed); timed-out probes pace themselves. */
const PROBE_PAUSE_MS = 200;

export interface StallGuardOptions {
  /** A round trip to Redis, e.g. PING on the same connection. */
  probe: () => Promise<unknown>;
  /** Told when Redis stops answering (true) and answers again (false). */
  onChange?: (stalled: boolean) => void;
  /** A command unanswered this long means Redis hangs (the store's deadline). */
  stallAfterMs: number;
}

export class StallGuard {
  private stalled = false;
  private closed = false;
  private checking = false;

  constructor(private readonly options: StallGuardOptions) {}

  /** Whether commands are being refused right now. */
  get isStalled(): boolean {
    return this.stalled;
  }

  /**
   * Runs `command` unless Redis is known to hang. A command still unanswered
   * after `stallAfterMs` trips the guard (it keeps waiting for its own reply).
   */
  run<T>(command: () => Promise<T>): Promise<T> {
    return this.guard(command, this.options.stallAfterMs, () => this.trip());
  }

  /**
   * Runs `command`, which may legitimately stay unanswered for `mayBlockMs`
   * (a `WAIT` on a connection of its own), unless Redis is known to hang.
   * Still unanswered after that, it does not trip the guard itself: the
   * guard sends its probe, and trips if that goes unanswered.
   */
  runBlocking<T>(command: () => Promise<T>, mayBlockMs: number): Promise<T> {
    return this.guard(command, mayBlockMs, () => this.check());
  }

  /** Runs `command`, calling `overdue` once it has gone `afterMs` unanswered or timed out. */
  private async guard<T>(command: () => Promise<T>, afterMs: number, overdue: () => void): Promise<T> {
    if (this.stalled) throw unavailable("the store is not answering; nothing was sent");
    const watchdog = setTimeout(overdue, afterMs);
    try {
      return await command();
    } catch (error) {
      if (error instanceof Error && error.message === TIMEOUT_MESSAGE) overdue();
      throw error;
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** Stops probing. */
  close(): void {
    this.closed = true;
  }

  /** Probes once, as a guarded command: unanswered, it trips the guard. One check at a time. */
  private check(): void {
    if (this.stalled || this.closed || this.checking) return;
    this.checking = true;
    this.run(this.options.probe)
      .catch(() => undefined)
      .finally(() => (this.checking = false));
  }

  private trip(): void {
    if (this.stalled || this.closed) return;
    this.stalled = true;
    this.options.onChange?.(true);
    void this.probeUntilAnswered();
  }

  private async probeUntilAnswered(): Promise<void> {
    while (!this.closed) {
      try {
        await this.options.probe();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, PROBE_PAUSE_MS));
      }
    }
    this.stalled = false;
    if (!this.closed) this.options.onChange?.(false);
  }
}
