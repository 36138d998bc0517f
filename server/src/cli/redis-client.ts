/**
 * Redis for the CLI: the server's own client construction
 * (redis-connections.ts), but failing fast with a clear message when Redis
 * does not answer, instead of retrying forever as a replica does.
 */
import { ERROR_CODES } from "@scrollback/client/protocol";
import type { RedisTarget } from "../config.js";
import { AppError } from "../errors.js";
import { closeRedisClient, createRedisClient, handleSubscriptionFailures, type RedisClient } from "../redis-connections.js";
import { describeRedisError } from "../redis-tls.js";
import { withTimeout } from "../with-timeout.js";
import { CliError } from "./cli-error.js";

/** How long the CLI waits for Redis before giving up. */
const CONNECT_TIMEOUT_MS = 5_000;

/** Where `target` points, for messages; never includes a password. */
export function describeTarget(target: RedisTarget): string {
  const nodes = (list: { host: string; port: number }[]) => list.map((node) => `${node.host}:${node.port}`).join(",");
  switch (target.kind) {
    case "cluster":
      return `Redis Cluster ${nodes(target.nodes)}`;
    case "sentinel":
      return `Redis master "${target.name}" via Sentinel ${nodes(target.sentinels)}`;
    case "standalone": {
      if (!target.url) return `Redis at ${target.host}:${target.port}/${target.db}`;
      const url = new URL(target.url);
      url.username = "";
      url.password = "";
      return `Redis at ${url.toString()}`;
    }
  }
}

/**
 * A connected client of `role` (see redis-connections.ts), or a CliError
 * UNAVAILABLE naming the target when Redis cannot be reached.
 */
export async function connectRedis(target: RedisTarget, role: "data" | "pub" | "sub"): Promise<RedisClient> {
  const client = createRedisClient(target, role);
  try {
    const ready = new Promise<void>((resolve, reject) => {
      client.once("ready", resolve);
      client.once("error", reject);
    });
    await withTimeout(ready, {
      ms: CONNECT_TIMEOUT_MS,
      onTimeout: () => {
        throw new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`);
      },
    });
  } catch (error) {
    client.disconnect();
    const reason = error instanceof Error && error.message ? describeRedisError(error, target) : "connection failed";
    throw new CliError("UNAVAILABLE", `cannot reach ${describeTarget(target)}: ${reason}`);
  }
  // Later errors surface as failed commands; without a listener ioredis would also print them.
  client.on("error", () => {});
  if (role === "sub") {
    // `clear` builds the adapter only to publish: its SSUBSCRIBEs (sent unawaited as
    // it starts) and SUNSUBSCRIBEs (as it closes) may still be unanswered when the
    // command closes this client, and then fail with "Connection is closed." (on a
    // Cluster, a sharded subscriber connection is often still connecting by then).
    // Nothing here listens on those channels, so their failure changes nothing;
    // `tail` awaits its own SSUBSCRIBE and still sees it fail.
    handleSubscriptionFailures(client, () => {});
  }
  return client;
}

/** Closes every client given (see closeRedisClient). */
export async function closeRedis(...clients: (RedisClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((client) => client && closeRedisClient(client)));
}

/** Turns a failed Redis command into a CliError: UNAVAILABLE for connection trouble, FAILED otherwise. */
export function redisFailure(error: unknown, doing: string): CliError {
  if (error instanceof CliError) return error;
  // The server's own modules (HistoryService, RedisStore) speak AppError.
  if (error instanceof AppError)
    return new CliError(error.code === ERROR_CODES.UNAVAILABLE ? "UNAVAILABLE" : "FAILED", `${doing}: ${error.message}`);
  const message = error instanceof Error ? error.message : String(error);
  const replyError = error instanceof Error && error.name === "ReplyError";
  return new CliError(replyError ? "FAILED" : "UNAVAILABLE", `${doing}: ${message}`);
}
