/**
 * The loop the three throughput cases share: every variant `rounds` times,
 * alternating, each window under closed-loop load from the generators; a
 * case only says what it sends, to how many replicas, and what it stores first.
 */

import { benchUserId } from "../fixtures.js";
import { type BenchContext, type ServerSet, serverCpuMicros, startServers } from "../fleet.js";
import type { LoopOptions, PlannedSocket, WindowStats } from "../load-generator.js";
import type { CaseName } from "../options.js";
import { countCommandsByRole, readCommandCalls, readRedisCpuSeconds, resetCommandStats } from "../redis-stats.js";
import { medianOf, type RunVariant, summarise, type ThroughputResult } from "../results.js";

export type ThroughputCaseName = Exclude<CaseName, "idle" | "inbox" | "drafts">;

export interface ThroughputCase {
  name: ThroughputCaseName;
  /** What every sender emits in its loop. */
  event: LoopOptions["event"];
  /** Server processes per variant; with two, each user also has a receiving connection on the second. The ceiling always runs one. */
  replicas: 1 | 2;
  /** Runs before each window, on a flushed Redis. */
  prepare?(context: BenchContext): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
  spec: ThroughputCase,
  variants: RunVariant[],
): Promise<Partial<Record<RunVariant, ThroughputResult>>> {
  // The servers of every variant stay up for the whole case (idle ones cost
  // nothing), so that rounds can alternate: a burst of load from elsewhere on
  // the machine then disturbs one round of each variant rather than one variant.
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
        const result = await measureWindow(context, spec, variant, servers.get(variant)!, round === 0);
        rounds.get(variant)!.push(result);
        context.log?.(`${spec.name} ${variant} round ${round + 1}: ${Math.round(result.perSecond)}/s, p99 ${result.p99Ms?.toFixed(2)} ms`);
      }
    }
    return Object.fromEntries([...rounds].map(([variant, results]) => [variant, medianOf(results)]));
  } finally {
    await Promise.all([...servers.values()].map((set) => set.stop()));
  }
}

/** One measured window of one variant; `probe`: then count the Redis commands of exactly probeAdds adds. */
export async function measureWindow(
  context: BenchContext,
  spec: ThroughputCase,
  variant: RunVariant,
  servers: ServerSet,
  probe: boolean,
): Promise<ThroughputResult> {
  const { options, admin } = context;
  await admin.flushall();
  await spec.prepare?.(context);
  const generators = context.generators.slice(0, options.generators);
  try {
    const plans = planFor(servers.urls, options.users, servers.urls.length === 2, generators.length);
    await Promise.all(generators.map((generator, index) => generator.call("open", { plan: plans[index], concurrency: 20 })));

    const loop: LoopOptions = {
      event: spec.event,
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
