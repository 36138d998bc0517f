/**
 * A/B for an optimisation: runs scrollback from this checkout and from
 * another one (`--candidate DIR`, e.g. a copy with one change) beside the
 * ceiling, alternating their order for several rounds in one invocation, and
 * prints the median of each figure. Ratios measured in the same round cancel
 * most of the noise of a shared machine; the medians of several rounds the rest.
 *
 *   node --conditions=source --import tsx bench/compare.ts --candidate /tmp/copy --rounds 5 --cases add,fanout [bench options]
 */
import { resolve } from "node:path";
import { startRedis } from "../test/support/redis-server.js";
import { runThroughput, startGenerators, type BenchContext, type RunVariant, type ThroughputResult } from "./cases.js";
import { parseBenchOptions } from "./options.js";

/** Takes `--name value` out of the arguments; the rest are bench options. */
function take(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  if (at === -1) return undefined;
  return args.splice(at, 2)[1];
}
const args = process.argv.slice(2);
const candidate = take(args, "candidate");
const roundsArg = take(args, "rounds");
if (candidate === undefined) throw new Error("--candidate DIR is required");
const options = parseBenchOptions(["--quick", ...args]);
const rounds = Number(roundsArg ?? 5);

const redis = await startRedis();
const context: BenchContext = { options, redis, admin: redis.client(), generators: [], candidateRoot: resolve(candidate) };
try {
  context.generators = await startGenerators(Math.max(2, options.generators));
  for (const caseName of options.cases) {
    if (caseName === "idle") continue;
    const samples: Record<"scrollback" | "candidate", { ratio: number[]; cpu: number[]; redis: number[]; p99: number[] }> = {
      scrollback: { ratio: [], cpu: [], redis: [], p99: [] },
      candidate: { ratio: [], cpu: [], redis: [], p99: [] },
    };
    for (let round = 0; round < rounds; round++) {
      const order: RunVariant[] = round % 2 === 0 ? ["ceiling", "scrollback", "candidate"] : ["ceiling", "candidate", "scrollback"];
      const results: Partial<Record<RunVariant, ThroughputResult>> = {};
      for (const variant of order) results[variant] = await runThroughput(context, caseName, variant);
      const ceiling = results.ceiling!;
      for (const variant of ["scrollback", "candidate"] as const) {
        const result = results[variant]!;
        samples[variant].ratio.push(result.perSecond / ceiling.perSecond);
        samples[variant].cpu.push(result.serverCpuPer1k * 1000);
        samples[variant].redis.push(result.redisCpuPer1k * 1000);
        samples[variant].p99.push(result.p99Ms! / ceiling.p99Ms!);
      }
      process.stderr.write(
        `${caseName} round ${round + 1}: ×ceiling scrollback ${samples.scrollback.ratio.at(-1)!.toFixed(3)} candidate ${samples.candidate.ratio.at(-1)!.toFixed(3)}; ` +
          `server µs/add ${samples.scrollback.cpu.at(-1)!.toFixed(1)} vs ${samples.candidate.cpu.at(-1)!.toFixed(1)}\n`,
      );
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    for (const variant of ["scrollback", "candidate"] as const) {
      const s = samples[variant];
      console.log(
        `${caseName} ${variant.padEnd(10)} median ×ceiling ${median(s.ratio).toFixed(3)}  server CPU ${median(s.cpu).toFixed(1)} µs/request  redis CPU ${median(s.redis).toFixed(1)} µs/request  p99 ×ceiling ${median(s.p99).toFixed(2)}`,
      );
    }
  }
} finally {
  await Promise.all(context.generators.map((generator) => generator.stop()));
  await redis.stop();
}
