/**
 * Streamed drafts fanned out across two replicas (PROTOCOL.md §4, Drafts):
 * each user streams replies with `draft:append` on replica 1 (closed loop,
 * `inflight` replies at once, each stored with `message:add` after
 * `CHUNKS_PER_DRAFT` chunks) while a tab of that user on replica 2 receives
 * every `draft:update`. Figures: chunks/s, ack latency, updates/s on the
 * other replica and their delivery latency (send to arrival, one clock),
 * updates out of seq order, CPU per 1,000 chunks.
 */
import type { DraftLoopOptions, DraftPair, DraftWindowStats } from "../draft-generator.js";
import { benchUserId } from "../fixtures.js";
import { type BenchContext, serverCpuMicros, startServers } from "../fleet.js";
import { startWorker, type Worker } from "../ipc.js";
import { readRedisCpuSeconds } from "../redis-stats.js";
import { medianOf, summarise, type ThroughputResult } from "../results.js";

/** A word or two with the send time in front (the stamp takes 12 of them). */
export const CHUNK_BYTES = 24;
export const CHUNKS_PER_DRAFT = 32;
/** The bound: no chunk later than this after it was sent, on loopback. */
const DELIVERY_BOUND_MS = 50;

export interface DraftsResult extends ThroughputResult {
  chunkBytes: number;
  /** 0: closed loop; else each reply's pause between chunks (an offered load of users × inflight × 1000/interval chunks/s). */
  chunkIntervalMs: number;
  chunksPerDraft: number;
  /** Replies stored per second (each ends a draft). */
  storedPerSecond: number;
  /** Updates that arrived out of seq order, over all rounds (0 expected). */
  outOfOrder: number;
  /** The share of updates delivered later than 50 ms, median of the rounds. */
  lateShare: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runDrafts(context: BenchContext): Promise<DraftsResult> {
  const { options, admin } = context;
  // Each in-flight reply is a live draft: allow that many per user.
  const env = { ...options.env, MAX_DRAFTS_PER_USER: String(Math.min(100, Math.max(4, options.inflight))) };
  const servers = await startServers({ ...context, options: { ...options, env } }, "scrollback", 2, "drafts");
  const generators: Worker[] = [];
  try {
    generators.push(
      ...(await Promise.all(
        Array.from({ length: options.generators }, (_, index) =>
          startWorker("./draft-generator.ts", { label: `draft generator ${index}` }),
        ),
      )),
    );
    const rounds: DraftsResult[] = [];
    for (let round = 0; round < options.rounds; round++) {
      await admin.flushall();
      const plans: DraftPair[][] = generators.map(() => []);
      for (let i = 0; i < options.users; i++) {
        plans[i % generators.length]!.push({ userId: benchUserId(i), senderUrl: servers.urls[0]!, receiverUrl: servers.urls[1]! });
      }
      await Promise.all(generators.map((generator, index) => generator.call("open", { plan: plans[index] })));
      try {
        const loop: DraftLoopOptions = {
          inflight: options.inflight,
          chunkBytes: CHUNK_BYTES,
          chunksPerDraft: CHUNKS_PER_DRAFT,
          chunkIntervalMs: options.chunkIntervalMs,
        };
        await Promise.all(generators.map((generator) => generator.call("start", loop)));
        await sleep(options.warmupSeconds * 1000);
        const [cpuBefore, redisBefore] = await Promise.all([serverCpuMicros(servers), readRedisCpuSeconds(admin)]);
        await Promise.all(generators.map((generator) => generator.call("mark")));
        await sleep(options.durationSeconds * 1000);
        const windows = await Promise.all(generators.map((generator) => generator.call<DraftWindowStats>("stop", { drainMs: 10_000 })));
        const [cpuAfter, redisAfter] = await Promise.all([serverCpuMicros(servers), readRedisCpuSeconds(admin)]);
        const result = summarise("scrollback", 2, windows, (cpuAfter - cpuBefore) / 1e6, redisAfter - redisBefore);
        const seconds = Math.max(...windows.map((window) => window.elapsedMs)) / 1000;
        const drafts: DraftsResult = {
          ...result,
          chunkBytes: CHUNK_BYTES,
          chunkIntervalMs: options.chunkIntervalMs,
          chunksPerDraft: CHUNKS_PER_DRAFT,
          storedPerSecond: windows.reduce((sum, window) => sum + window.stored, 0) / seconds,
          outOfOrder: windows.reduce((sum, window) => sum + window.outOfOrder, 0),
          lateShare: lateShareOf(windows),
        };
        rounds.push(drafts);
        context.log?.(
          `drafts round ${round + 1}: ${Math.round(drafts.perSecond)} chunks/s, delivery p99 ${drafts.deliveryP99Ms?.toFixed(2)} ms`,
        );
      } finally {
        await Promise.all(generators.map((generator) => generator.call("close")));
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    return {
      ...medianOf(rounds),
      chunkBytes: CHUNK_BYTES,
      chunkIntervalMs: options.chunkIntervalMs,
      chunksPerDraft: CHUNKS_PER_DRAFT,
      storedPerSecond: median(rounds.map((round) => round.storedPerSecond)),
      outOfOrder: rounds.reduce((sum, round) => sum + round.outOfOrder, 0),
      lateShare: median(rounds.map((round) => round.lateShare)),
    };
  } finally {
    await Promise.all(generators.map((generator) => generator.stop()));
    await servers.stop();
  }
}

/** The share of updates delivered later than DELIVERY_BOUND_MS (histogram buckets are 1 % wide). */
function lateShareOf(windows: DraftWindowStats[]): number {
  let late = 0;
  let all = 0;
  for (const window of windows) {
    for (const [bucket, count] of window.deliveryLatency) {
      all += count;
      // Bucket b holds values above 1.01^(b-1) µs, up to 1.01^b µs.
      if (1.01 ** (bucket - 1) / 1000 >= DELIVERY_BOUND_MS) late += count;
    }
  }
  return all > 0 ? late / all : 0;
}

/** The drafts' lines of the printed table. */
export function formatDrafts(result: DraftsResult): string {
  const f = (value: number | null | undefined, digits: number) =>
    value === null || value === undefined
      ? "—"
      : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const rows: [string, string][] = [
    [`chunks/s (${result.chunkBytes} B, replica 1)`, f(result.perSecond, 0)],
    ["chunk ack p50 / p99 ms", `${f(result.p50Ms, 2)} / ${f(result.p99Ms, 2)}`],
    ["draft:update/s (replica 2)", f(result.deliveriesPerSecond, 0)],
    ["delivery p50 / p99 ms", `${f(result.deliveryP50Ms, 2)} / ${f(result.deliveryP99Ms, 2)}`],
    [`delivered after ${DELIVERY_BOUND_MS} ms`, `${f(result.lateShare * 100, 3)} %`],
    ["updates out of seq order", f(result.outOfOrder, 0)],
    [`replies stored/s (${result.chunksPerDraft} chunks each)`, f(result.storedPerSecond, 0)],
    ["server CPU s/1k chunks", f(result.serverCpuPer1k, 3)],
    ["redis CPU s/1k chunks", f(result.redisCpuPer1k, 3)],
    ["errors + lost", f(Object.values(result.errors).reduce((sum, count) => sum + count, 0) + result.lost, 0)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const pace = result.chunkIntervalMs > 0 ? `a chunk every ${result.chunkIntervalMs} ms per reply` : "closed loop";
  return [`drafts (scrollback, 2 replicas, ${pace})`, ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)].join("\n");
}
