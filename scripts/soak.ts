/**
 * `npm run soak`: a long run (not in CI) that checks nothing accumulates.
 * Two scrollback replicas on a throwaway redis-server take adds at half the
 * maximum rate measured first (or `--rate`), from users whose tabs sit on
 * both replicas, while other tabs keep connecting and leaving. Every
 * `--sample-seconds` it prints the replicas' heap (after GC) and RSS and
 * Redis's used_memory; at the end it fits a line to each over the second
 * half and says whether they stayed flat: the fitted growth over that half
 * below `--threshold` of the mean (or under a small floor in bytes). Exits 1
 * when something grew or adds failed.
 *
 *   npm run soak                      30 minutes
 *   npm run soak -- --minutes 1 --sample-seconds 3
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { measureWindow } from "../bench/cases/throughput.js";
import { benchUserId } from "../bench/fixtures.js";
import { type BenchContext, serverCpuMicros, startGenerators, startServers } from "../bench/fleet.js";
import { Histogram } from "../bench/histogram.js";
import { slope } from "../bench/linear-fit.js";
import type { LoopOptions, PlannedSocket } from "../bench/load-generator.js";
import type { WindowStats } from "../bench/measured-window.js";
import { parseBenchOptions } from "../bench/options.js";
import { readRedisMemory } from "../bench/redis-stats.js";
import type { ProcessUsage } from "../bench/server-process.js";
import { startRedis } from "../dev/redis-server.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    "sample-seconds": { type: "string" },
    rate: { type: "string" },
    users: { type: "string", default: "100" },
    threshold: { type: "string", default: "0.05" },
    out: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(`npm run soak -- [--minutes 30] [--sample-seconds S] [--rate ADDS_PER_S] [--users 100] [--threshold 0.05] [--out FILE]
  --rate            adds/s to hold (default: half the maximum measured first)
  --threshold       largest growth over the second half, as a fraction of the mean, still called flat`);
  process.exit(0);
}
const positive = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name}: must be a positive number`);
  return parsed;
};
const minutes = positive(values.minutes, "minutes")!;
const sampleSeconds = positive(values["sample-seconds"], "sample-seconds") ?? Math.max(2, Math.round((minutes * 60) / 60));
const users = Math.round(positive(values.users, "users")!);
const threshold = positive(values.threshold, "threshold")!;
/** Growth below this many bytes is flat whatever the mean (GC and allocator noise on a small heap). */
const FLOOR_BYTES = 2 * 2 ** 20;

const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  atSeconds: number;
  heapBytes: number;
  rssBytes: number;
  redisUsedMemory: number;
  addsPerSecond: number;
  errors: number;
  skipped: number;
  deliveryP99Ms: number | null;
  serverCpuShare: number;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// Measured like the bench: a Redis without users (the suites prove the ACL rules).
const redis = await startRedis({ acl: false });
const options = parseBenchOptions(["--users", String(users)]);
const context: BenchContext = { options, redis, admin: redis.client(), generators: [], log };
let exitCode = 0;
try {
  context.generators = await startGenerators(2);
  const servers = await startServers(context, "scrollback", 2, "soak", { nodeFlags: ["--expose-gc"] });
  const [first, second] = servers.urls as [string, string];
  // Every user sends on the first replica; half of them keep a tab on the second.
  const plan: PlannedSocket[] = [];
  for (let i = 0; i < users; i++) {
    plan.push({ url: first, userId: benchUserId(i), sender: true });
    if (i % 2 === 0) plan.push({ url: second, userId: benchUserId(i), sender: false });
  }

  let rate = positive(values.rate, "rate");
  if (rate === undefined) {
    const max = await measureWindow(context, {
      event: "message:add",
      variant: "scrollback",
      servers,
      plans: [plan],
      warmupSeconds: 2,
      durationSeconds: 5,
    });
    rate = Math.max(1, Math.round(max.perSecond / 2));
    log(
      `maximum ${Math.round(max.perSecond)} adds/s (closed loop, ${users} users × ${options.inflight} in flight); holding ${rate} adds/s`,
    );
  }
  await context.admin.flushall();
  const [loadGenerator, churnGenerator] = context.generators as [
    NonNullable<(typeof context.generators)[0]>,
    NonNullable<(typeof context.generators)[0]>,
  ];
  await loadGenerator.call("open", { plan, concurrency: 20 });
  const loop: LoopOptions = { event: "message:add", inflight: options.inflight, contentBytes: options.contentBytes, clientIds: true };
  await loadGenerator.call("pace", { ...loop, rate, maxOutstanding: users * options.inflight });
  // Tabs coming and going on both replicas: about a fifth of the users at any time, each for 5 s.
  await churnGenerator.call("churn", {
    urls: [second, first],
    users: Array.from({ length: users }, (_, i) => benchUserId(i)),
    perTick: Math.max(1, Math.round(users / 25)),
    tickMs: 1_000,
    lifetimeMs: 5_000,
  });
  await loadGenerator.call("mark");

  const samples: Sample[] = [];
  const started = performance.now();
  let cpuBefore = await serverCpuMicros(servers);
  let lastAt = started;
  const end = started + minutes * 60_000;
  while (performance.now() < end) {
    await sleep(Math.min(sampleSeconds * 1000, Math.max(0, end - performance.now())));
    const window = await loadGenerator.call<WindowStats & { skipped: number }>("sample");
    const usages = await Promise.all(servers.workers.map((worker) => worker.call<ProcessUsage>("usage", { gc: true })));
    const cpuNow = await serverCpuMicros(servers);
    const now = performance.now();
    const sample: Sample = {
      atSeconds: (now - started) / 1000,
      heapBytes: usages.reduce((sum, usage) => sum + usage.heapUsedBytes, 0),
      rssBytes: usages.reduce((sum, usage) => sum + usage.rssBytes, 0),
      redisUsedMemory: await readRedisMemory(context.admin),
      addsPerSecond: window.acks / (window.elapsedMs / 1000),
      errors: Object.values(window.errors).reduce((sum, count) => sum + count, 0),
      skipped: window.skipped,
      deliveryP99Ms: new Histogram().merge(window.deliveryLatency).percentile(0.99),
      serverCpuShare: (cpuNow - cpuBefore) / 1000 / (now - lastAt),
    };
    cpuBefore = cpuNow;
    lastAt = now;
    samples.push(sample);
    log(
      `${sample.atSeconds.toFixed(0).padStart(5)} s  ${Math.round(sample.addsPerSecond)} adds/s  heap ${mib(sample.heapBytes)}  RSS ${mib(sample.rssBytes)}  ` +
        `redis ${mib(sample.redisUsedMemory)}  delivery p99 ${sample.deliveryP99Ms?.toFixed(1) ?? "—"} ms  errors ${sample.errors}  skipped ${sample.skipped}  server CPU ${(sample.serverCpuShare * 100).toFixed(0)} %`,
    );
  }
  await loadGenerator.call("stop", { drainMs: 5_000 });
  const churned = await churnGenerator.call<{ opened: number; closed: number; failed: number }>("stopChurn");
  await Promise.all(context.generators.map((generator) => generator.call("close")));
  await servers.stop();

  const secondHalf = samples.filter((sample) => sample.atSeconds >= (minutes * 60) / 2);
  const halfSeconds = secondHalf.length > 1 ? secondHalf.at(-1)!.atSeconds - secondHalf[0]!.atSeconds : 0;
  const verdicts = (["heapBytes", "rssBytes", "redisUsedMemory"] as const).map((figure) => {
    const perSecond = slope(secondHalf.map((sample) => [sample.atSeconds, sample[figure]]));
    const mean = secondHalf.reduce((sum, sample) => sum + sample[figure], 0) / Math.max(1, secondHalf.length);
    const growth = perSecond * halfSeconds;
    const flat = secondHalf.length >= 3 && (growth <= threshold * mean || growth <= FLOOR_BYTES);
    return {
      figure,
      meanBytes: mean,
      growthBytes: growth,
      growthShare: mean > 0 ? growth / mean : 0,
      bytesPerMinute: perSecond * 60,
      flat,
    };
  });
  const errors = samples.reduce((sum, sample) => sum + sample.errors, 0);
  const skipped = samples.reduce((sum, sample) => sum + sample.skipped, 0);
  const adds = samples.reduce(
    (sum, sample, i) => sum + sample.addsPerSecond * (sample.atSeconds - (i === 0 ? 0 : samples[i - 1]!.atSeconds)),
    0,
  );
  for (const verdict of verdicts) {
    console.log(
      `${verdict.flat ? "flat" : "GREW"}: ${verdict.figure} mean ${mib(verdict.meanBytes)}, fitted growth over the second half (${halfSeconds.toFixed(0)} s, ${secondHalf.length} samples) ` +
        `${mib(verdict.growthBytes)} = ${(verdict.growthShare * 100).toFixed(1)} % of the mean (${mib(verdict.bytesPerMinute)}/min; flat below ${(threshold * 100).toFixed(0)} % or ${mib(FLOOR_BYTES)})`,
    );
  }
  console.log(
    `soak: ${minutes} min at ${rate} adds/s held: ${Math.round(adds)} adds acked, ${errors} errors, ${skipped} sends skipped (server behind), ` +
      `${churned.opened} tabs connected and ${churned.closed} left (${churned.failed} failed to connect)`,
  );
  const ok = verdicts.every((verdict) => verdict.flat) && errors === 0;
  console.log(ok ? "soak: memory stayed flat" : "soak: NOT flat or adds failed");
  if (!ok) exitCode = 1;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = values.out ?? fileURLToPath(new URL(`../bench/results/soak-${stamp}.json`, import.meta.url));
  mkdirSync(fileURLToPath(new URL("../bench/results/", import.meta.url)), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ minutes, rate, users, sampleSeconds, threshold, samples, verdicts, errors, skipped, churned, ok })}\n`,
  );
  log(`written to ${out}`);
} finally {
  await Promise.all(context.generators.map((generator) => generator.stop()));
  await redis.stop();
}
process.exit(exitCode);
