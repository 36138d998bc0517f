/**
 * A/B for an optimisation: runs scrollback from this checkout and from
 * another one (`--candidate DIR`, e.g. a copy with one change) beside the
 * ceiling, alternating the three for several rounds in one invocation, and
 * prints the median of each figure. Ratios measured in the same round cancel
 * most of the noise of a shared machine; the medians of several rounds the rest.
 *
 *   node --conditions=@scrollback/source --import tsx bench/compare.ts --candidate /tmp/copy --rounds 5 --cases add,fanout [bench options]
 */
import { resolve } from "node:path";
import { startRedis } from "../dev/redis-server.js";
import { runThroughputCase, THROUGHPUT_CASES } from "./cases/index.js";
import { type BenchContext, startGenerators } from "./fleet.js";
import { parseBenchOptions } from "./options.js";

/** Takes `--name value` out of the arguments; the rest are bench options. */
function take(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  if (at === -1) return undefined;
  return args.splice(at, 2)[1];
}
const args = process.argv.slice(2);
const candidate = take(args, "candidate");
if (candidate === undefined) throw new Error("--candidate DIR is required");
const options = parseBenchOptions(["--quick", "--rounds", "5", ...args]);

// No ACL users: the naive baseline and the stats watcher connect without credentials.
const redis = await startRedis({ acl: false });
const context: BenchContext = {
  options,
  redis,
  admin: redis.client(),
  generators: [],
  candidateRoot: resolve(candidate),
  log: (line) => process.stderr.write(`${line}\n`),
};
try {
  context.generators = await startGenerators(Math.max(2, options.generators));
  for (const caseName of options.cases) {
    if (!(caseName in THROUGHPUT_CASES)) continue; // idle, inbox and drafts compare no variants
    const results = await runThroughputCase(context, THROUGHPUT_CASES[caseName as keyof typeof THROUGHPUT_CASES], [
      "ceiling",
      "scrollback",
      "candidate",
    ]);
    const ceiling = results.ceiling!;
    for (const variant of ["scrollback", "candidate"] as const) {
      const result = results[variant]!;
      console.log(
        `${caseName} ${variant.padEnd(10)} ×ceiling ${(result.perSecond / ceiling.perSecond).toFixed(3)}  ` +
          `server CPU ${(result.serverCpuPer1k * 1000).toFixed(1)} µs/request  redis CPU ${(result.redisCpuPer1k * 1000).toFixed(1)} µs/request  ` +
          `p99 ×ceiling ${(result.p99Ms! / ceiling.p99Ms!).toFixed(2)}  (medians of ${options.rounds} rounds)`,
      );
    }
  }
} finally {
  await Promise.all(context.generators.map((generator) => generator.stop()));
  await redis.stop();
}
