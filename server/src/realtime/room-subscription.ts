/**
 * A connection joins its user's room before Socket.IO sends the CONNECT ack,
 * and, with the Redis adapter, waits until Redis has the room's subscription.
 * A client loads (catches up on) its history as soon as it is connected: a
 * subscription still in flight then would let a message published in between
 * reach neither that load nor the connection.
 *
 * The sharded adapter subscribes to a new room's channel without returning
 * the command's promise (`socket.join` returns nothing to wait on). Redis
 * answers one connection's commands in order, and the adapter's SSUBSCRIBE
 * for the room (if the room is new here) or an earlier one (if it is not)
 * has been written on the subscriber connection by then, so a SSUBSCRIBE of
 * the same channel sent now is answered only after it. Subscribing twice to
 * one channel is one subscription for Redis.
 */
import type { Logger } from "pino";
import type { Counter } from "prom-client";
import type { RedisClient } from "../redis-connections.js";
import { withTimeout } from "../with-timeout.js";
import { userRoomChannel } from "./fanout-adapter.js";
import { userRoom } from "./rooms.js";
import type { ScrollbackSocket } from "./types.js";

/**
 * How long a CONNECT waits for the confirmation. A subscriber connection
 * that is down takes longer; the connection is let in then, and disconnected
 * once the subscriber is back (subscription-loss.ts), so that it catches up.
 */
export const ROOM_SUBSCRIPTION_WAIT_MS = 2_000;

/**
 * Joins `socket` to its user's room; resolves once `sub` (if any) has the
 * room's subscription or after the wait (undefined then), or with Redis's
 * refusal of the SSUBSCRIBE (an ACL that excludes the channel, a MOVED or
 * CLUSTERDOWN past ioredis's retries, a connection closing). Nothing tells a
 * connection let in after a refusal that it is deaf (subscription-loss.ts
 * acts only when the whole subscriber connection comes back): the caller
 * must not let it in.
 */
export async function joinUserRoom(socket: ScrollbackSocket, keyPrefix: string, sub: RedisClient | undefined): Promise<Error | undefined> {
  const { userId } = socket.data;
  socket.join(userRoom(keyPrefix, userId));
  if (!sub) return undefined;
  const confirmed = sub.ssubscribe(userRoomChannel(keyPrefix, userId)).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  return withTimeout(confirmed, { ms: ROOM_SUBSCRIPTION_WAIT_MS, onTimeout: () => undefined });
}

/** How often, at most, refused room subscriptions are logged (each one is counted). */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Reports a refused room subscription: counted every time, logged at most
 * once per {@link REFUSAL_LOG_INTERVAL_MS} with how many were refused since
 * the last line. When Redis refuses them all (an ACL without the room
 * channels), every client retrying would otherwise write a line of its own.
 */
export function roomRefusalReporter(logger: Logger, refusals: Counter, now: () => number = Date.now) {
  let loggedAt = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  return (userId: string, refusal: Error): void => {
    refusals.inc();
    unlogged++;
    if (now() - loggedAt < REFUSAL_LOG_INTERVAL_MS) return;
    logger.warn(
      { userId, err: refusal.message, refused: unlogged },
      "redis refused the room subscription: refusing the connection UNAVAILABLE",
    );
    loggedAt = now();
    unlogged = 0;
  };
}
