/**
 * The four cases, each run once per variant with the same settings:
 * add, add + fan-out across two replicas, history:load of a full window, and
 * idle connections.
 */
import { join } from "node:path";
import type { Redis } from "ioredis";
import type { RedisServer } from "../dev/redis-server.js";
import { encodeElement } from "../server/src/store/message-codec.js";
import { messagesKey } from "../server/src/store/redis-keys.js";
import { benchUserId, historyWindow } from "./fixtures.js";
import { Histogram } from "./histogram.js";
import { startWorker, type Worker } from "./ipc.js";
import type { LoopOptions, PlannedSocket, WindowStats } from "./load-generator.js";
import type { BenchOptions, CaseName } from "./options.js";
import { countCommandsByRole, readCommandCalls, readRedisCpuSeconds, readRedisMemory, resetCommandStats } from "./redis-stats.js";
import type { ProcessUsage, ServerProcessOptions, Variant } from "./server-process.js";

/** A variant, or `candidate`: scrollback from another checkout (bench/compare.ts). */
export type RunVariant = Variant | "candidate";

export interface BenchContext {
  options: BenchOptions;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
  /** Root of the checkout whose server runs as `candidate`. */
  candidateRoot?: string;
  redis: RedisServer;
  /** The bench's own Redis connection (stats, flushing, prefilling). */
  admin: Redis;
  /** Load generator processes, at least two. */
  generators: Worker[];
}

export const KEY_PREFIX = "temp_memory";
export const HISTORY_MAX = 15;
const HISTORY_TTL_SECONDS = 86_400;

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

interface ServerSet {
  workers: Worker[];
  urls: string[];
  stop(): Promise<void>;
}

async function startServers(context: BenchContext, variant: RunVariant, count: number, label: string, extraFlags: string[] = []): Promise<ServerSet> {
  const { options, redis } = context;
  const script = variant === "candidate" ? join(context.candidateRoot!, "bench/server-process.ts") : "./server-process.ts";
  const processOptions: ServerProcessOptions = {
    variant: variant === "candidate" ? "scrollback" : variant,
    settings: {
      redisUrl: redis.url,
      keyPrefix: KEY_PREFIX,
      historyMax: HISTORY_MAX,
      historyTtlSeconds: HISTORY_TTL_SECONDS,
      contentBytes: options.contentBytes,
    },
    env: options.env,
  };
  const workers = await Promise.all(
    Array.from({ length: count }, (_, index) => {
      const profile = options.profileDir
        ? // One folder per process: tsx's loader thread writes a profile of its own beside the main thread's.
          ["--cpu-prof", `--cpu-prof-dir=${join(options.profileDir, `${label}-${variant}-${index}`)}`]
        : [];
      return startWorker(script, {
        env: { BENCH_SERVER: JSON.stringify(processOptions) },
        nodeFlags: [...profile, ...extraFlags],
        label: `${variant} server ${index}`,
      });
    }),
  );
  const ports = await Promise.all(workers.map((worker) => worker.call<number>("port")));
  return {
    workers,
    urls: ports.map((port) => `http://127.0.0.1:${port}`),
    stop: async () => {
      await Promise.all(workers.map((worker) => worker.stop()));
    },
  };
}

async function serverCpuMicros(servers: ServerSet): Promise<number> {
  const usages = await Promise.all(servers.workers.map((worker) => worker.call<ProcessUsage>("usage")));
  return usages.reduce((sum, usage) => sum + usage.cpuMicros, 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes a full window for each user, in the stored form both Redis variants read. */
async function prefillWindows(context: BenchContext, users: number): Promise<void> {
  const pipeline = context.admin.pipeline();
  for (let i = 0; i < users; i++) {
    const userId = benchUserId(i);
    const key = messagesKey(KEY_PREFIX, userId);
    pipeline.del(key);
    pipeline.rpush(key, ...historyWindow(userId, HISTORY_MAX, context.options.contentBytes).map((message) => encodeElement({ ...message, timestamp: message.timestamp! })));
    pipeline.expire(key, HISTORY_TTL_SECONDS);
  }
  await pipeline.exec();
}

/** Splits the planned sockets over `count` generators; a user's sockets stay together. */
function planFor(urls: string[], users: number, withReceivers: boolean, count: number): PlannedSocket[][] {
  const plans: PlannedSocket[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < users; i++) {
    const userId = benchUserId(i);
    const plan = plans[i % count]!;
    plan.push({ url: urls[0]!, userId, sender: true });
    if (withReceivers) plan.push({ url: urls[1]!, userId, sender: false });
  }
  return plans;
}

/** Runs one throughput case: every variant `rounds` times, alternating, each figure the median of its rounds. */
export async function runThroughputCase(
  context: BenchContext,
  caseName: Exclude<CaseName, "idle">,
  variants: RunVariant[],
): Promise<Partial<Record<RunVariant, ThroughputResult>>> {
  // The servers of every variant stay up for the whole case (idle ones cost
  // nothing), so that rounds can alternate: a burst of load from elsewhere on
  // the machine then disturbs one round of each variant rather than one variant.
  const servers = new Map<RunVariant, ServerSet>();
  try {
    for (const variant of variants) {
      // The ceiling is one bare server in every case: the transport's limit.
      const replicas = caseName === "fanout" && variant !== "ceiling" ? 2 : 1;
      servers.set(variant, await startServers(context, variant, replicas, caseName));
    }
    const rounds = new Map<RunVariant, ThroughputResult[]>(variants.map((variant) => [variant, []]));
    for (let round = 0; round < context.options.rounds; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      for (const variant of order) {
        const result = await measureWindow(context, caseName, variant, servers.get(variant)!, round === 0);
        rounds.get(variant)!.push(result);
        context.log?.(`${caseName} ${variant} round ${round + 1}: ${Math.round(result.perSecond)}/s, p99 ${result.p99Ms?.toFixed(2)} ms`);
      }
    }
    return Object.fromEntries([...rounds].map(([variant, results]) => [variant, medianOf(results)]));
  } finally {
    await Promise.all([...servers.values()].map((set) => set.stop()));
  }
}

/** One measured window of one variant; `probe`: then count the Redis commands of exactly probeAdds adds. */
async function measureWindow(context: BenchContext, caseName: Exclude<CaseName, "idle">, variant: RunVariant, servers: ServerSet, probe: boolean): Promise<ThroughputResult> {
  const { options, admin } = context;
  await admin.flushall();
  if (caseName === "load") await prefillWindows(context, options.users);
  const generators = context.generators.slice(0, options.generators);
  try {
    const plans = planFor(servers.urls, options.users, servers.urls.length === 2, generators.length);
    await Promise.all(generators.map((generator, index) => generator.call("open", { plan: plans[index], concurrency: 20 })));

    const loop: LoopOptions = {
      event: caseName === "load" ? "history:load" : "message:add",
      inflight: options.inflight,
      contentBytes: options.contentBytes,
      clientIds: options.clientIds,
    };
    await Promise.all(generators.map((generator) => generator.call("start", loop)));
    await sleep(options.warmupSeconds * 1000);

    const [cpuBefore, redisCpuBefore] = await Promise.all([serverCpuMicros(servers), readRedisCpuSeconds(admin)]);
    await Promise.all(generators.map((generator) => generator.call("mark")));
    await sleep(options.durationSeconds * 1000);
    const windows = await Promise.all(generators.map((generator) => generator.call<WindowStats>("stop", { drainMs: 10_000 })));
    const [cpuAfter, redisCpuAfter] = await Promise.all([serverCpuMicros(servers), readRedisCpuSeconds(admin)]);

    const result = summarise(variant, servers.urls.length, windows, (cpuAfter - cpuBefore) / 1e6, redisCpuAfter - redisCpuBefore);

    if (probe && loop.event === "message:add") {
      // Exactly probeAdds adds with nothing else running, so the counts divide
      // without rounding error; MONITOR tells the connections apart.
      let adds = 0;
      const byRole = await countCommandsByRole(context.redis.url, admin, async () => {
        await resetCommandStats(admin);
        const share = Math.ceil(options.probeAdds / generators.length);
        const answers = await Promise.all(generators.map((generator) => generator.call<{ ok: number; failed: number }>("exactly", { ...loop, count: share })));
        adds = answers.reduce((sum, answer) => sum + answer.ok, 0);
      });
      const perAdd = (calls: Record<string, number> = {}) =>
        Object.fromEntries(Object.entries(calls).map(([name, count]) => [name, count / adds]));
      result.dataCommandsPerAdd = Object.values(byRole.data ?? {}).reduce((sum, count) => sum + count, 0) / adds;
      result.commandsPerAdd = Object.fromEntries(Object.entries(byRole).map(([role, calls]) => [role, perAdd(calls)]));
      result.commandStatsPerAdd = perAdd(await readCommandCalls(admin));
    }
    return result;
  } finally {
    await Promise.all(generators.map((generator) => generator.call("close")));
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Each figure the median of the rounds; errors and losses summed; the command counts from the round that took them. */
function medianOf(results: ThroughputResult[]): ThroughputResult {
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

function summarise(variant: RunVariant, replicas: number, windows: WindowStats[], serverCpu: number, redisCpu: number): ThroughputResult {
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

/** Opens `idleConnections` connections (one user each) to one server and measures what they cost. */
export async function runIdle(context: BenchContext, variant: RunVariant): Promise<IdleResult> {
  const { options, admin } = context;
  const count = options.idleConnections;
  await admin.flushall();
  const servers = await startServers(context, variant, 1, "idle", ["--expose-gc"]);
  const generators = context.generators;
  try {
    // A warm-up round first, so neither side measures its first-connection costs (JIT, lazy loading).
    const warmup = Math.min(1_000, Math.ceil(count / 10));
    await Promise.all(
      generators.map((generator, index) =>
        generator.call("open", { plan: Array.from({ length: Math.ceil(warmup / generators.length) }, (_, i) => ({ url: servers.urls[0]!, userId: benchUserId(count + i * generators.length + index), sender: true })), concurrency: 50 }),
      ),
    );
    await Promise.all(generators.map((generator) => generator.call("close")));
    const [before] = await Promise.all(servers.workers.map((worker) => worker.call<ProcessUsage>("usage", { gc: true })));
    const redisBefore = await readRedisMemory(admin);
    const plans: PlannedSocket[][] = generators.map(() => []);
    for (let i = 0; i < count; i++) plans[i % generators.length]!.push({ url: servers.urls[0]!, userId: benchUserId(i), sender: true });
    const started = performance.now();
    await Promise.all(generators.map((generator, index) => generator.call("open", { plan: plans[index], concurrency: 50 })));
    const connectSeconds = (performance.now() - started) / 1000;
    const [after] = await Promise.all(servers.workers.map((worker) => worker.call<ProcessUsage>("usage", { gc: true })));
    const redisAfter = await readRedisMemory(admin);
    return {
      variant,
      connections: count,
      connectSeconds,
      rssBytesPerConnection: (after!.rssBytes - before!.rssBytes) / count,
      serverCpuPer1k: (after!.cpuMicros - before!.cpuMicros) / 1e6 / (count / 1000),
      redisBytesPerConnection: (redisAfter - redisBefore) / count,
    };
  } finally {
    await Promise.all(generators.map((generator) => generator.call("close")));
    await servers.stop();
  }
}

/** Starts the load generator processes. */
export async function startGenerators(count: number): Promise<Worker[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => startWorker("./load-generator.ts", { label: `generator ${index}` })));
}
