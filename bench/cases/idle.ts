/** Idle connections: what each one costs the server and Redis, and how fast they all connect. */
import { benchUserId } from "../fixtures.js";
import { type BenchContext, startServers } from "../fleet.js";
import type { PlannedSocket } from "../load-generator.js";
import { readRedisMemory } from "../redis-stats.js";
import type { IdleResult, RunVariant } from "../results.js";
import type { ProcessUsage } from "../server-process.js";

/** Opens `idleConnections` connections (one user each) to one server and measures what they cost. */
export async function runIdle(context: BenchContext, variant: RunVariant): Promise<IdleResult> {
  const { options, admin } = context;
  const count = options.idleConnections;
  await admin.flushall();
  const servers = await startServers(context, variant, 1, "idle", { nodeFlags: ["--expose-gc"] });
  const generators = context.generators;
  try {
    // A warm-up round first, so neither side measures its first-connection costs (JIT, lazy loading).
    const warmup = Math.min(1_000, Math.ceil(count / 10));
    await Promise.all(
      generators.map((generator, index) =>
        generator.call("open", {
          plan: Array.from({ length: Math.ceil(warmup / generators.length) }, (_, i) => ({
            url: servers.urls[0]!,
            userId: benchUserId(count + i * generators.length + index),
            sender: true,
          })),
          concurrency: 50,
        }),
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
