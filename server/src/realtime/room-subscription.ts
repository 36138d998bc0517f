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
 * refusal of the SSUBSCRIBE (a MOVED or CLUSTERDOWN while slots move, an ACL
 * that excludes the channel, a connection closing). A refusal is not undone
 * by a reconnect of the subscriber, so nothing else would ever tell the
 * connection it is deaf: the caller must not let it in.
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
