/**
 * A child process serving one variant: `scrollback` (the real server, built
 * by createApp exactly as main.ts builds it), `ceiling` or `naive`. It
 * reports its own CPU time and memory to the orchestrator. `bare-fanout`
 * is the fan-out case's yardstick (baselines/bare-fanout.ts).
 */
import pino from "pino";
import { createApp } from "../server/src/app.js";
import { loadConfig } from "../server/src/config.js";
import { MAX_HTTP_BUFFER_SIZE } from "../server/src/realtime/socket-server.js";
import { startBareFanoutServer } from "./baselines/bare-fanout.js";
import { startCeilingServer } from "./baselines/ceiling.js";
import { startNaiveServer } from "./baselines/naive.js";
import type { BaselineServer, BaselineSettings } from "./baselines/settings.js";
import { serveMethods } from "./ipc.js";

export type Variant = "scrollback" | "ceiling" | "naive" | "bare-fanout";

export interface ServerProcessOptions {
  variant: Variant;
  settings: Omit<BaselineSettings, "maxHttpBufferSize">;
  /** Extra environment for scrollback (PROTOCOL.md §1 names), e.g. to try a setting. */
  env?: Record<string, string>;
}

/** What `usage` answers. */
export interface ProcessUsage {
  /** User + system CPU time since the process started, in microseconds. */
  cpuMicros: number;
  rssBytes: number;
  heapUsedBytes: number;
}

async function startScrollback(options: ServerProcessOptions): Promise<BaselineServer> {
  const { settings } = options;
  const config = loadConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    STORE: "redis",
    REDIS_URL: settings.redisUrl,
    KEY_PREFIX: settings.keyPrefix,
    HISTORY_MAX: String(settings.historyMax),
    HISTORY_TTL_SECONDS: String(settings.historyTtlSeconds),
    AUTH_MODE: "dev",
    // On, so its code runs, but high enough that the closed loop never hits it.
    RATE_LIMIT_PER_SECOND: "1000000",
    RATE_LIMIT_BURST: "1000000",
    LOG_LEVEL: "warn",
    ...options.env,
  });
  const app = await createApp(config, pino({ level: config.logLevel }));
  const port = await app.listen();
  return { port, close: () => app.close(1_000) };
}

// As main.ts does: a stray rejection is logged, not fatal.
process.on("unhandledRejection", (reason) => process.stderr.write(`bench server: unhandled rejection: ${String(reason)}\n`));

const options = JSON.parse(process.env.BENCH_SERVER ?? "{}") as ServerProcessOptions;
const settings = { ...options.settings, maxHttpBufferSize: MAX_HTTP_BUFFER_SIZE };
const server =
  options.variant === "scrollback"
    ? await startScrollback(options)
    : options.variant === "ceiling"
      ? await startCeilingServer(settings)
      : options.variant === "bare-fanout"
        ? await startBareFanoutServer(settings)
        : await startNaiveServer(settings);

serveMethods(
  {
    port: () => server.port,
    usage: ({ gc }: { gc?: boolean } = {}): ProcessUsage => {
      // Two passes: the first may only queue finalisers the second collects.
      if (gc && typeof globalThis.gc === "function") {
        globalThis.gc();
        globalThis.gc();
      }
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      return { cpuMicros: cpu.user + cpu.system, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed };
    },
  },
  () => server.close(),
);
