/**
 * What a case measures, and how one measured window (or several rounds of
 * them) turns into the figures the report prints.
 */
import { Histogram } from "./histogram.js";
import type { WindowStats } from "./measured-window.js";
import type { Variant } from "./server-process.js";

/**
 * A variant as a case runs it: a server variant, `scrollback-h1000`
 * (scrollback with HISTORY_MAX=1000, its windows full, in the add case), or
 * `candidate`: scrollback from another checkout (bench/compare.ts).
 */
export type RunVariant = Variant | "scrollback-h1000" | "candidate";

/** The window of the `scrollback-h1000` variant. */
export const LARGE_HISTORY_MAX = 1000;

/** One variant's figures in a throughput case. */
export interface ThroughputResult {
  variant: RunVariant;
  replicas: number;
  /** Acknowledged requests per second. */
  perSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  errors: Record<string, number>;
  lost: number;
  /** CPU seconds of all server processes per 1,000 acknowledged requests. */
  serverCpuPer1k: number;
  redisCpuPer1k: number;
  /** The load generators' CPU seconds per 1,000 requests: what the clients took of the shared cores. */
  generatorCpuPer1k: number;
  deliveriesPerSecond?: number;
  deliveryP50Ms?: number | null;
  deliveryP99Ms?: number | null;
  /** Over exactly `probeAdds` adds, from MONITOR: commands the data connection sent per add (its round trips). */
  dataCommandsPerAdd?: number;
  /** The same by connection role (data, pub, sub, lua: run by a script) and command. */
  commandsPerAdd?: Record<string, Record<string, number>>;
  /** INFO commandstats calls per add over the same adds (scripts' commands included). */
  commandStatsPerAdd?: Record<string, number>;
  /** Requests per second of each round (the figures above are the medians of the rounds). */
  roundsPerSecond?: number[];
}

/** One variant's figures in the idle-connections case. */
export interface IdleResult {
  variant: RunVariant;
  connections: number;
  connectSeconds: number;
  rssBytesPerConnection: number;
  serverCpuPer1k: number;
  redisBytesPerConnection: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Each figure the median of the rounds; errors and losses summed; the command counts from the round that took them. */
export function medianOf(results: ThroughputResult[]): ThroughputResult {
  const first = results[0]!;
  const figure = (pick: (result: ThroughputResult) => number | null | undefined) => {
    const values = results.map(pick).filter((value): value is number => typeof value === "number");
    return values.length > 0 ? median(values) : undefined;
  };
  const errors: Record<string, number> = {};
  for (const result of results) for (const [code, count] of Object.entries(result.errors)) errors[code] = (errors[code] ?? 0) + count;
  const combined: ThroughputResult = {
    ...first,
    perSecond: figure((r) => r.perSecond)!,
    p50Ms: figure((r) => r.p50Ms) ?? null,
    p99Ms: figure((r) => r.p99Ms) ?? null,
    p999Ms: figure((r) => r.p999Ms) ?? null,
    errors,
    lost: results.reduce((sum, result) => sum + result.lost, 0),
    serverCpuPer1k: figure((r) => r.serverCpuPer1k)!,
    redisCpuPer1k: figure((r) => r.redisCpuPer1k)!,
    generatorCpuPer1k: figure((r) => r.generatorCpuPer1k)!,
    roundsPerSecond: results.map((result) => result.perSecond),
  };
  if (first.deliveriesPerSecond !== undefined) {
    combined.deliveriesPerSecond = figure((r) => r.deliveriesPerSecond);
    combined.deliveryP50Ms = figure((r) => r.deliveryP50Ms) ?? null;
    combined.deliveryP99Ms = figure((r) => r.deliveryP99Ms) ?? null;
  }
  return combined;
}

/** One window's figures from the load generators' stats and the CPU seconds the servers and Redis spent in it. */
export function summarise(
  variant: RunVariant,
  replicas: number,
  windows: WindowStats[],
  serverCpu: number,
  redisCpu: number,
): ThroughputResult {
  const acks = windows.reduce((sum, window) => sum + window.acks, 0);
  const seconds = Math.max(...windows.map((window) => window.elapsedMs)) / 1000;
  const latency = new Histogram();
  const delivery = new Histogram();
  const errors: Record<string, number> = {};
  let deliveries = 0;
  let lost = 0;
  for (const window of windows) {
    latency.merge(window.ackLatency);
    delivery.merge(window.deliveryLatency);
    deliveries += window.deliveries;
    lost += window.lost;
    for (const [code, count] of Object.entries(window.errors)) errors[code] = (errors[code] ?? 0) + count;
  }
  const result: ThroughputResult = {
    variant,
    replicas,
    perSecond: acks / seconds,
    p50Ms: latency.percentile(0.5),
    p99Ms: latency.percentile(0.99),
    p999Ms: latency.percentile(0.999),
    errors,
    lost,
    serverCpuPer1k: acks > 0 ? serverCpu / (acks / 1000) : 0,
    redisCpuPer1k: acks > 0 ? redisCpu / (acks / 1000) : 0,
    generatorCpuPer1k: acks > 0 ? windows.reduce((sum, window) => sum + window.cpuMicros, 0) / 1e6 / (acks / 1000) : 0,
  };
  if (deliveries > 0) {
    result.deliveriesPerSecond = deliveries / seconds;
    result.deliveryP50Ms = delivery.percentile(0.5);
    result.deliveryP99Ms = delivery.percentile(0.99);
  }
  return result;
}
