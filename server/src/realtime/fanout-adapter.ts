/**
 * The Socket.IO Redis adapter that carries fan-out between replicas, in one
 * place: the server and the operator CLI (which publishes `history:cleared`
 * and listens to one user's broadcasts) must agree on its channels.
 */
import { createShardedAdapter } from "@socket.io/redis-adapter";
import type { RedisClient } from "../redis-connections.js";
import { userRoom } from "./rooms.js";

/**
 * Sharded Pub/Sub, "dynamic": each user room gets its own channel, so a
 * replica only receives broadcasts for users it has connections for.
 */
export const FANOUT_ADAPTER_OPTIONS = { channelPrefix: "socket.io", subscriptionMode: "dynamic" } as const;

/** The adapter factory to pass to `new Server({ adapter })`. */
export function createFanoutAdapter(pub: RedisClient, sub: RedisClient): ReturnType<typeof createShardedAdapter> {
  return createShardedAdapter(pub, sub, FANOUT_ADAPTER_OPTIONS);
}

/** The main channel of the default namespace: every replica subscribes to it (the adapter's server count). */
export const FANOUT_MAIN_CHANNEL = `${FANOUT_ADAPTER_OPTIONS.channelPrefix}#/#`;

/** The sharded channel that carries broadcasts to one user's room ("dynamic" mode). */
export function userRoomChannel(userId: string): string {
  return `${FANOUT_MAIN_CHANNEL}${userRoom(userId)}#`;
}
