/**
 * The processes a bench run drives: server processes of a variant (one or
 * two replicas on the bench's Redis) and the load generators, each a forked
 * worker (ipc.ts).
 */
import { join } from "node:path";
import type { Redis } from "ioredis";
import type { RedisServer } from "../dev/redis-server.js";
import { startWorker, type Worker } from "./ipc.js";
import type { BenchOptions } from "./options.js";
import { LARGE_HISTORY_MAX, type RunVariant } from "./results.js";
import type { ProcessUsage, ServerProcessOptions } from "./server-process.js";

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
export const HISTORY_TTL_SECONDS = 86_400;

/** The server processes of one variant. */
export interface ServerSet {
  workers: Worker[];
  urls: string[];
  stop(): Promise<void>;
}

/** The window a variant's servers keep (HISTORY_MAX). */
export function historyMaxOf(variant: RunVariant): number {
  return variant === "scrollback-h1000" ? LARGE_HISTORY_MAX : HISTORY_MAX;
}

export interface StartOptions {
  /** Extra node flags, e.g. --expose-gc. */
  nodeFlags?: string[];
  /** HISTORY_MAX for these servers (default: the variant's, historyMaxOf). */
  historyMax?: number;
}

function withoutHistoryMax(env: Record<string, string>): Record<string, string> {
  const { HISTORY_MAX: _ignored, ...rest } = env;
  return rest;
}

/** Starts `count` server processes of `variant`; `label` names their profile folders. */
export async function startServers(
  context: BenchContext,
  variant: RunVariant,
  count: number,
  label: string,
  start: StartOptions = {},
): Promise<ServerSet> {
  const { options, redis } = context;
  const script = variant === "candidate" ? join(context.candidateRoot!, "bench/server-process.ts") : "./server-process.ts";
  const processOptions: ServerProcessOptions = {
    variant: variant === "candidate" || variant === "scrollback-h1000" ? "scrollback" : variant,
    settings: {
      redisUrl: redis.url,
      keyPrefix: KEY_PREFIX,
      historyMax: start.historyMax ?? historyMaxOf(variant),
      historyTtlSeconds: HISTORY_TTL_SECONDS,
      contentBytes: options.contentBytes,
    },
    // A window chosen here (a variant's, a scale point's) wins over an --env HISTORY_MAX meant for the default one.
    env: start.historyMax !== undefined || variant === "scrollback-h1000" ? withoutHistoryMax(options.env) : options.env,
  };
  const workers = await Promise.all(
    Array.from({ length: count }, (_, index) => {
      const profile = options.profileDir
        ? // One folder per process: tsx's loader thread writes a profile of its own beside the main thread's.
          ["--cpu-prof", `--cpu-prof-dir=${join(options.profileDir, `${label}-${variant}-${index}`)}`]
        : [];
      return startWorker(script, {
        env: { BENCH_SERVER: JSON.stringify(processOptions) },
        nodeFlags: [...profile, ...(start.nodeFlags ?? [])],
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

/** CPU microseconds the set's processes have used so far. */
export async function serverCpuMicros(servers: ServerSet): Promise<number> {
  const usages = await Promise.all(servers.workers.map((worker) => worker.call<ProcessUsage>("usage")));
  return usages.reduce((sum, usage) => sum + usage.cpuMicros, 0);
}

/** Starts the load generator processes. */
export async function startGenerators(count: number): Promise<Worker[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => startWorker("./load-generator.ts", { label: `generator ${index}` })));
}
