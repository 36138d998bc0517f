/**
 * `npm run bench`: starts its own redis-server on a free loopback port, runs
 * each case for scrollback and its two baselines (ceiling, naive) in the
 * same invocation, prints a table and one JSON line, and writes the JSON to
 * bench/results/<date>.json. See bench/README.md.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { startRedis } from "../dev/redis-server.js";
import {
  type DraftsResult,
  formatDrafts,
  formatInbox,
  type InboxResult,
  runDrafts,
  runIdle,
  runInbox,
  runThroughputCase,
  THROUGHPUT_CASES,
} from "./cases/index.js";
import { formatScale, runScale } from "./cases/scale.js";
import { type BenchContext, startGenerators } from "./fleet.js";
import { parseBenchOptions, type VariantName } from "./options.js";
import { type CaseResults, checkTargets, formatTable, formatTargets } from "./report.js";
import type { RunVariant } from "./results.js";

/** Baselines first, so a slow machine shows the ceiling before the rest. */
const VARIANT_ORDER: VariantName[] = ["ceiling", "bare-fanout", "naive", "scrollback", "scrollback-h1000"];

/** The idle case compares scrollback with the bare server and the naive design only. */
const IDLE_VARIANTS: RunVariant[] = ["ceiling", "naive", "scrollback"];

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2));
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
  // Whatever else runs on the machine moves the figures: say how busy it was.
  const loadBefore = loadavg()[0]!;
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });

  // No ACL users: the naive baseline and the stats watcher connect without credentials.
  const redis = await startRedis({ acl: false });
  const admin = redis.client();
  const context: BenchContext = { options, redis, admin, generators: [], log };
  const stopAll = async () => {
    await Promise.all(context.generators.map((generator) => generator.stop()));
    await redis.stop();
  };
  process.once("SIGINT", () => {
    log("interrupted; stopping");
    stopAll().finally(() => process.exit(130));
  });

  const results: CaseResults = {};
  // scrollback-only cases with their own figures and table lines
  const streams: { inbox?: InboxResult; drafts?: DraftsResult } = {};
  try {
    context.generators = await startGenerators(Math.max(2, options.generators));
    const variants = VARIANT_ORDER.filter((variant) => options.variants.includes(variant));
    for (const caseName of options.cases) {
      const began = performance.now();
      if (caseName === "scale") {
        const chartsDir = options.chartsDir ?? fileURLToPath(new URL(`./results/${stamp}-scale/`, import.meta.url));
        const subtitle = `${startedAt.toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average ${loadavg()[0]!.toFixed(1)} at start`;
        results.scale = await runScale(context, variants, chartsDir, subtitle);
      } else if (caseName === "idle") {
        for (const variant of variants.filter((variant) => IDLE_VARIANTS.includes(variant))) {
          const result = await runIdle(context, variant);
          results.idle ??= {};
          results.idle[variant] = result;
          log(
            `idle ${variant}: ${result.connections} connections in ${result.connectSeconds.toFixed(1)} s, ${(result.rssBytesPerConnection / 1024).toFixed(1)} KiB each`,
          );
        }
      } else if (caseName === "inbox") {
        streams.inbox = await runInbox(context);
      } else if (caseName === "drafts") {
        streams.drafts = await runDrafts(context);
      } else {
        results[caseName] = await runThroughputCase(context, THROUGHPUT_CASES[caseName], variants);
      }
      log(`${caseName} done in ${((performance.now() - began) / 1000).toFixed(0)} s`);
    }
  } finally {
    await stopAll();
  }

  const redisVersion = /v=([\d.]+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
  const report = {
    date: startedAt.toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      redis: redisVersion,
      /** 1-minute load average before and after the run. */
      loadAverage: [loadBefore, loadavg()[0]!].map((value) => Math.round(value * 100) / 100),
    },
    settings: {
      users: options.users,
      inflight: options.inflight,
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      rounds: options.rounds,
      idleConnections: options.idleConnections,
      generators: options.generators,
      contentBytes: options.contentBytes,
      clientIds: options.clientIds,
      env: options.env,
      scale: options.cases.includes("scale")
        ? { ...options.scale, idle: options.scale.idle.map((count) => (Number.isFinite(count) ? count : "max")) }
        : undefined,
    },
    results: { ...results, ...streams },
    targets: checkTargets(results),
  };

  console.log(
    `scrollback bench ${report.date}: ${report.machine.cores} × ${report.machine.cpu}, Node ${report.machine.node}, Redis ${redisVersion}, load average ${report.machine.loadAverage.join(" → ")}; ` +
      `${options.users} users × ${options.inflight} in flight, ${options.contentBytes}-byte contents, ${options.clientIds ? "client" : "server"} ids, ` +
      `${options.rounds} rounds of ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s measured (medians), ${options.idleConnections} idle connections` +
      (Object.keys(options.env).length > 0 ? `; env ${JSON.stringify(options.env)}` : ""),
  );
  if (results.add || results.fanout || results.load || results.idle) console.log(formatTable(results));
  if (report.targets.length > 0) console.log(formatTargets(report.targets));
  if (results.scale) console.log(formatScale(results.scale));
  if (streams.inbox) console.log(`\n${formatInbox(streams.inbox)}`);
  if (streams.drafts) console.log(`\n${formatDrafts(streams.drafts)}`);
  const line = JSON.stringify(report);
  console.log(line);
  const out = options.out ?? fileURLToPath(new URL(`./results/${stamp}.json`, import.meta.url));
  writeFileSync(out, `${line}\n`);
  log(`written to ${out}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
