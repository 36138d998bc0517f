/**
 * Entry point: reads the environment (and ./.env; real variables win),
 * starts one server, and stops it gracefully on SIGTERM/SIGINT.
 * The only module that touches process.env.
 */
import pino from "pino";
import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { readEnvironment } from "./environment.js";
import { redisTlsOptions } from "./redis-tls.js";
import { startTracing } from "./tracing.js";
import { withTimeout } from "./with-timeout.js";

/** Exit within this long after a stop signal, drained or not. */
const SHUTDOWN_LIMIT_MS = 10_000;
/** Of which the last spans get at most this long to reach the collector. */
const TRACE_FLUSH_LIMIT_MS = 1_500;

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig(readEnvironment(process.env));
    // REDIS_TLS_* files readable, PEM, and the certificate with its key: checked now, not at the first connection.
    if (config.store !== "memory") redisTlsOptions(config.redis);
  } catch (error) {
    if (error instanceof ConfigError) {
      // One line per problem, each naming its variable.
      for (const line of error.message.split("\n")) process.stderr.write(`scrollback: ${line}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel, base: { service: "scrollback" } });

  // A rejection nobody handled must not take every user's connections down with it.
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection"));

  // Only when OTEL_TRACING asks for it: otherwise the trace SDK is never loaded.
  const tracing = config.tracing ? await startTracing(config.tracing) : undefined;
  const app = await createApp(config, logger, { tracer: tracing?.tracer });
  const port = await app.listen();
  logger.info(
    { port, host: config.host, store: app.store.kind, auth: config.auth.mode, tracing: config.tracing?.exporter ?? "off" },
    "scrollback listening",
  );

  const stop = (signal: string) => {
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    const flushTraces = () => tracing && withTimeout(tracing.shutdown(), { ms: TRACE_FLUSH_LIMIT_MS, onTimeout: () => undefined });
    app
      .close(SHUTDOWN_LIMIT_MS - 2_000)
      .then(flushTraces)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`scrollback: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
