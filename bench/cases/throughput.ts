/**
 * The loop the three throughput cases share: every variant `rounds` times,
 * alternating, each window under closed-loop load from the generators; a
 * case only says what it sends, to how many replicas, and what it stores first.
 */

import { benchUserId } from "../fixtures.js";
import { type BenchContext, type ServerSet, serverCpuMicros, startServers } from "../fleet.js";
import type { LoopOptions, PlannedSocket } from "../load-generator.js";
import type { WindowStats } from "../measured-window.js";
import type { CaseName } from "../options.js";
import { countCommandsByRole, readCommandCalls, readRedisCpuSeconds, resetCommandStats } from "../redis-stats.js";
import { medianOf, type RunVariant, summarise, type ThroughputResult } from "../results.js";

export type ThroughputCaseName = Exclude<CaseName, "idle" | "scale" | "inbox" | "drafts">;

export interface ThroughputCase {
  name: ThroughputCaseName;
  /** What every sender emits in its loop. */
  event: LoopOptions["event"];
  /** Server processes per variant; with two, each user also has a receiving connection on the second. The ceiling always runs one. */
  replicas: 1 | 2;
  /** Runs before each window of `variant`, on a flushed Redis. */
  prepare?(context: BenchContext, variant: RunVariant): Promise<void>;
}

/** Variants that belong to one case only: the fan-out yardstick, and the large window of the add case. */
const ONLY_IN: Partial<Record<RunVariant, ThroughputCaseName>> = { "bare-fanout": "fanout", "scrollback-h1000": "add" };

/** The variants of `variants` that `caseName` runs. */
export function variantsOf(caseName: ThroughputCaseName, variants: RunVariant[]): RunVariant[] {
  return variants.filter((variant) => (ONLY_IN[variant] ?? caseName) === caseName);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Splits the planned sockets over `count` generators; a user's sockets stay together. */
export function planFor(urls: string[], users: number, withReceivers: boolean, count: number): PlannedSocket[][] {
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
  spec: ThroughputCase,
  variants: RunVariant[],
): Promise<Partial<Record<RunVariant, ThroughputResult>>> {
  // The servers of every variant stay up for the whole case (idle ones cost
  // nothing), so that rounds can alternate: a burst of load from elsewhere on
  // the machine then disturbs one round of each variant rather than one variant.
  variants = variantsOf(spec.name, variants);
  const servers = new Map<RunVariant, ServerSet>();
  try {
    for (const variant of variants) {
      // The ceiling is one bare server in every case: the transport's limit.
      const replicas = variant === "ceiling" ? 1 : spec.replicas;
      servers.set(variant, await startServers(context, variant, replicas, spec.name));
    }
    const rounds = new Map<RunVariant, ThroughputResult[]>(variants.map((variant) => [variant, []]));
    for (let round = 0; round < context.options.rounds; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      for (const variant of order) {
        const set = servers.get(variant)!;
        const result = await measureWindow(context, {
          event: spec.event,
          variant,
          servers: set,
          plans: planFor(set.urls, context.options.users, set.urls.length === 2, context.options.generators),
          prepare: () => spec.prepare?.(context, variant) ?? Promise.resolve(),
          probe: round === 0,
        });
        rounds.get(variant)!.push(result);
        context.log?.(`${spec.name} ${variant} round ${round + 1}: ${Math.round(result.perSecond)}/s, p99 ${result.p99Ms?.toFixed(2)} ms`);
      }
    }
    return Object.fromEntries([...rounds].map(([variant, results]) => [variant, medianOf(results)]));
  } finally {
    await Promise.all([...servers.values()].map((set) => set.stop()));
  }
}

/** What one measured window runs. */
export interface WindowSpec {
  event: LoopOptions["event"];
  variant: RunVariant;
  servers: ServerSet;
  /** The sockets of each generator (one list per generator used). */
  plans: PlannedSocket[][];
  /** Runs on the flushed Redis before the sockets open. */
  prepare?(): Promise<void>;
  /** Then count the Redis commands of exactly probeAdds adds. */
  probe?: boolean;
  /** Flush Redis first (default true; the scale case keeps its idle connections' state). */
  flush?: boolean;
  /** Requests in flight per sender (default: the bench's --inflight). */
  inflight?: number;
  /** Override the bench's warm-up and measured seconds (the scale case's short points). */
  warmupSeconds?: number;
  durationSeconds?: number;
}

/** One measured window of one variant under closed-loop load. */
export async function measureWindow(context: BenchContext, spec: WindowSpec): Promise<ThroughputResult> {
  const { options, admin } = context;
  const { variant, servers, plans } = spec;
  if (spec.flush !== false) await admin.flushall();
  await spec.prepare?.();
  const generators = context.generators.slice(0, plans.length);
  try {
    await Promise.all(generators.map((generator, index) => generator.call("open", { plan: plans[index], concurrency: 20 })));

    const loop: LoopOptions = {
      event: spec.event,
      inflight: spec.inflight ?? options.inflight,
      contentBytes: options.contentBytes,
      clientIds: options.clientIds,
    };
    await Promise.all(generators.map((generator) => generator.call("start", loop)));
    await sleep((spec.warmupSeconds ?? options.warmupSeconds) * 1000);

    const [cpuBefore, redisCpuBefore] = await Promise.all([serverCpuMicros(servers), readRedisCpuSeconds(admin)]);
    await Promise.all(generators.map((generator) => generator.call("mark")));
    await sleep((spec.durationSeconds ?? options.durationSeconds) * 1000);
    const windows = await Promise.all(generators.map((generator) => generator.call<WindowStats>("stop", { drainMs: 10_000 })));
    const [cpuAfter, redisCpuAfter] = await Promise.all([serverCpuMicros(servers), readRedisCpuSeconds(admin)]);

    const result = summarise(variant, servers.urls.length, windows, (cpuAfter - cpuBefore) / 1e6, redisCpuAfter - redisCpuBefore);

    if (spec.probe && loop.event === "message:add") {
      // Exactly probeAdds adds with nothing else running, so the counts divide
      // without rounding error; MONITOR tells the connections apart.
      let adds = 0;
      const byRole = await countCommandsByRole(context.redis.adminUrl, admin, async () => {
        await resetCommandStats(admin);
        const share = Math.ceil(options.probeAdds / generators.length);
        const answers = await Promise.all(
          generators.map((generator) => generator.call<{ ok: number; failed: number }>("exactly", { ...loop, count: share })),
        );
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
