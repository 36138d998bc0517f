/**
 * A steady write load for fault tests: one writer per connection sends
 * `message:add` with its own ids, one at a time, and on `UNAVAILABLE`,
 * `RATE_LIMITED` or a lost ack sends the same id again (as PROTOCOL.md §4
 * says is always safe). Afterwards `verifyStored` compares what was acked
 * with what Redis holds: acked ids missing (lost) and ids stored twice.
 */
import type { Socket } from "socket.io-client";
import { expect } from "vitest";
import { reconnectWhenServerDisconnects, requestOk, type TestSocket } from "./clients.js";
import { until } from "./wait.js";

export interface Writer {
  userId: string;
  socket: TestSocket;
}

export interface WorkloadOptions {
  /** Pause between one ack and the next add of a writer. */
  intervalMs?: number;
  /** How long a writer waits for an ack before sending the id again. */
  ackTimeoutMs?: number;
  /** Makes ids unique across workloads of one test file. */
  idPrefix?: string;
}

export interface WorkloadReport {
  /** Ids acked `ok: true`, per user. */
  acked: Map<string, string[]>;
  /** Refusals and lost acks by code (`TIMEOUT` for a lost ack). */
  failures: Record<string, number>;
  /** The longest time any writer went from sending an attempt that failed to its next ok ack, in ms. */
  longestOutageMs: number;
  /** Acks received, in total. */
  ackCount: number;
}

export interface Workload {
  /** Acks received so far. */
  readonly ackCount: number;
  /** Acks received so far for `userId`. */
  ackedBy(userId: string): number;
  /** Resolves once `count` more acks arrived than when it was called. */
  waitForAcks(count: number, timeoutMs?: number): Promise<void>;
  /** Stops sending new ids; each writer keeps retrying its current id until acked, then the report. */
  stop(timeoutMs?: number): Promise<WorkloadReport>;
}

/** Starts one writer per entry of `writers`. */
export function startWorkload(writers: Writer[], options: WorkloadOptions = {}): Workload {
  const intervalMs = options.intervalMs ?? 20;
  const ackTimeoutMs = options.ackTimeoutMs ?? 3_000;
  const prefix = options.idPrefix ?? "w";
  const acked = new Map<string, string[]>(writers.map((writer) => [writer.userId, []]));
  const failures: Record<string, number> = {};
  let ackCount = 0;
  let longestOutageMs = 0;
  let stopping = false;
  const waiters: { target: number; resolve: () => void }[] = [];

  const onAck = () => {
    ackCount++;
    for (const waiter of waiters.filter((candidate) => ackCount >= candidate.target)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };

  const runWriter = async (writer: Writer, index: number) => {
    for (let n = 0; !stopping; n++) {
      const id = `${prefix}-${index}-${n}`;
      let failedSince: number | undefined;
      for (;;) {
        let answer: { ok: boolean; error?: { code: string; retryAfterMs?: number } };
        const sentAt = Date.now();
        try {
          answer = await (writer.socket as unknown as Socket)
            .timeout(ackTimeoutMs)
            .emitWithAck("message:add", { id, content: `${writer.userId} ${n}` });
        } catch {
          answer = { ok: false, error: { code: "TIMEOUT" } };
        }
        if (answer.ok) {
          if (failedSince !== undefined) longestOutageMs = Math.max(longestOutageMs, Date.now() - failedSince);
          acked.get(writer.userId)!.push(id);
          onAck();
          break;
        }
        const code = answer.error?.code ?? "UNKNOWN";
        failures[code] = (failures[code] ?? 0) + 1;
        if (!["UNAVAILABLE", "RATE_LIMITED", "TIMEOUT"].includes(code)) throw new Error(`writer ${writer.userId}: refused with ${code}`);
        failedSince ??= sentAt;
        await new Promise((resolve) => setTimeout(resolve, Math.max(50, answer.error?.retryAfterMs ?? 0)));
      }
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  };

  // A fault that costs a replica its fan-out subscription disconnects its tabs (PROTOCOL.md §4); writers reconnect.
  for (const writer of writers) reconnectWhenServerDisconnects(writer.socket);
  const running = Promise.all(writers.map((writer, index) => runWriter(writer, index)));
  // A writer that throws must fail the test through stop(), not as an unhandled rejection.
  running.catch(() => {});

  return {
    get ackCount() {
      return ackCount;
    },
    ackedBy: (userId) => acked.get(userId)?.length ?? 0,
    waitForAcks(count, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fewer than ${count} acks within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          target: ackCount + count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    async stop(timeoutMs = 60_000) {
      stopping = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        running,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`writers still retrying after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      return { acked, failures, longestOutageMs, ackCount };
    },
  };
}

export interface StoredCheck {
  /** Acked ids that are not stored. */
  lost: string[];
  /** Ids stored more than once. */
  duplicates: string[];
  /** Acked ids, in total. */
  ackedCount: number;
}

/**
 * Compares acks with storage. `readIds(userId)` returns the ids of the user's
 * stored elements, oldest first (e.g. from LRANGE).
 */
export async function verifyStored(acked: Map<string, string[]>, readIds: (userId: string) => Promise<string[]>): Promise<StoredCheck> {
  const lost: string[] = [];
  const duplicates: string[] = [];
  let ackedCount = 0;
  for (const [userId, ids] of acked) {
    const stored = await readIds(userId);
    const seen = new Set<string>();
    for (const id of stored) {
      if (seen.has(id)) duplicates.push(id);
      seen.add(id);
    }
    ackedCount += ids.length;
    lost.push(...ids.filter((id) => !seen.has(id)));
  }
  return { lost, duplicates, ackedCount };
}

/** The ids of raw stored elements (PROTOCOL.md §2 JSON). */
export function idsOf(elements: string[]): string[] {
  return elements.map((element) => (JSON.parse(element) as { id: string }).id);
}

/** Resolves with the first `message:new` carrying `id` (other users' writers may be sending too). */
export function messageArrival(socket: TestSocket, id: string, timeoutMs = 5_000): Promise<{ id: string }> {
  const raw = socket as unknown as Socket;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      raw.off("message:new", onMessage);
      reject(new Error(`no message:new with id ${id} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: { id: string }) => {
      if (message.id !== id) return;
      clearTimeout(timer);
      raw.off("message:new", onMessage);
      resolve(message);
    };
    raw.on("message:new", onMessage);
  });
}

export interface RecoveryCheck {
  /** Names the run in the printed figures, e.g. "sentinel failover". */
  title: string;
  /** The id prefix of the run (also names the message sent after the failover). */
  label: string;
  workload: Workload;
  /** Users whose writes must resume. */
  users: string[];
  /**
   * How long every writer has for 20 more acks (default 30 s). With
   * `REDIS_WAIT_REPLICAS` each add also waits for the rejoined replica, which
   * under a loaded machine (the whole suite in parallel) has taken longer.
   */
  resumeWithinMs?: number;
  /** Opens a connection of `userId` to replica 0 or 1 (two different replicas). */
  open: (replica: 0 | 1, userId: string) => Promise<TestSocket>;
  killedAt: number;
  failedOverMs: number;
  /** The ids stored for a user, oldest first, read from the (new) master. */
  readIds: (userId: string) => Promise<string[]>;
}

/**
 * After a Redis failover under load: every user's writes resume (20 more
 * acks each), fan-out across two replicas works again, and what was acked is
 * compared with what is stored (no duplicates allowed; losses returned).
 */
export async function checkRecovery(run: RecoveryCheck): Promise<{ check: StoredCheck; report: WorkloadReport }> {
  const { workload, users, label } = run;
  const before = new Map(users.map((userId) => [userId, workload.ackedBy(userId)]));
  await until(
    "every writer acks 20 more writes",
    () => users.every((userId) => workload.ackedBy(userId) >= before.get(userId)! + 20),
    run.resumeWithinMs ?? 30_000,
  );
  const resumedMs = Date.now() - run.killedAt;

  // The subscriptions followed the data too (they may trail it by a few seconds).
  const [a, b] = [await run.open(0, users[0]!), await run.open(1, users[0]!)];
  const arrival = messageArrival(b, `${label}-after`, 10_000);
  const ack = await requestOk(a, "message:add", { id: `${label}-after`, content: "after the failover" });
  expect(await arrival).toEqual(ack.message);

  const report = await workload.stop();
  const check = await verifyStored(report.acked, run.readIds);
  console.info(
    `[${run.title}] acked=${check.ackedCount} lost=${check.lost.length} duplicates=${check.duplicates.length} ` +
      `failover=${run.failedOverMs}ms writes resumed=${resumedMs}ms longest writer outage=${report.longestOutageMs}ms ` +
      `refusals=${JSON.stringify(report.failures)}`,
  );
  expect(check.duplicates).toEqual([]);
  return { check, report };
}
