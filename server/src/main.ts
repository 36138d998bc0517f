/**
 * Entry point: reads the environment (and ./.env; real variables win),
 * starts one server, and stops it gracefully on SIGTERM/SIGINT.
 * The only module that touches process.env.
 */
import pino from "pino";
import { createApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { readEnvironment } from "./environment.js";

/** Exit within this long after a stop signal, drained or not. */
const SHUTDOWN_LIMIT_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(readEnvironment(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`scrollback: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel, base: { service: "scrollback" } });

  // A rejection nobody handled must not take every user's connections down with it.
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection"));

  const app = await createApp(config, logger);
  const port = await app.listen();
  logger.info({ port, host: config.host, store: app.store.kind, auth: config.auth.mode }, "scrollback listening");

  const stop = (signal: string) => {
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    app.close(SHUTDOWN_LIMIT_MS - 2_000).then(
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
