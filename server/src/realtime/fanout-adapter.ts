/**
 * The Socket.IO Redis adapter that carries fan-out between replicas, in one
 * place: the server and the operator CLI (which publishes `history:cleared`
 * and listens to one user's broadcasts) must agree on its channels.
 */
import { createShardedAdapter } from "@socket.io/redis-adapter";
import type { RedisClient } from "../redis-connections.js";
import { encodeRoomBroadcast, roomBroadcastMessage } from "./adapter-wire-format.js";
import { deliverPreEncoded } from "./pre-encoded-delivery.js";
import { userRoom } from "./rooms.js";

/**
 * Sharded Pub/Sub, "dynamic": each user room gets its own channel, so a
 * replica only receives broadcasts for users it has connections for.
 */
export const FANOUT_ADAPTER_OPTIONS = { channelPrefix: "socket.io", subscriptionMode: "dynamic" } as const;

/**
 * What the sharded adapter uses to choose a broadcast's channel: the call its
 * own `doPublish` makes. It is not in its typings, so each use checks it is there.
 */
interface AdapterInternals {
  computeChannel(message: unknown): string;
}

function internalsOf(adapter: unknown): AdapterInternals | undefined {
  const candidate = adapter as Partial<AdapterInternals> | undefined;
  return typeof candidate?.computeChannel === "function" ? (candidate as AdapterInternals) : undefined;
}

/**
 * The adapter factory to pass to `new Server({ adapter })`: the sharded
 * adapter, delivering the store's broadcasts without decoding them
 * (pre-encoded-delivery.ts).
 */
export function createFanoutAdapter(pub: RedisClient, sub: RedisClient): ReturnType<typeof createShardedAdapter> {
  const createStock = createShardedAdapter(pub, sub, FANOUT_ADAPTER_OPTIONS);
  // Socket.IO calls the factory with `new`, which an arrow function refuses: a function returning an object gives that object.
  function fanoutAdapter(nsp: unknown) {
    return deliverPreEncoded(createStock(nsp), STORE_SENDER_UID);
  }
  return fanoutAdapter;
}

/**
 * The sender id of the broadcasts the store publishes: no replica's own id,
 * so every replica delivers them, the writing one included (its other tabs
 * then get a user's adds and clears in the one order Redis published them,
 * not a local copy that could overtake a broadcast from another replica).
 * It is the id @socket.io/redis-emitter stamps for the same reason, which
 * adapters that count servers by sender ignore.
 */
export const STORE_SENDER_UID = "emitter";

/**
 * The channel and message the adapter would publish for
 * `io.to(room).except(exceptSocketId).emit(event, payload)`, sent by
 * {@link STORE_SENDER_UID}, so that another connection (the store's, inside
 * its write) can publish it instead, to every replica. Undefined when
 * `adapter` is not the sharded Redis adapter.
 */
export function prepareRoomBroadcast(
  adapter: unknown,
  room: string,
  exceptSocketId: string | undefined,
  event: string,
  payload: unknown,
): { channel: string; payload: string } | undefined {
  const internals = internalsOf(adapter);
  if (!internals) return undefined;
  const broadcast = { uid: STORE_SENDER_UID, room, except: exceptSocketId ? [exceptSocketId] : [], event, payload };
  return { channel: internals.computeChannel(roomBroadcastMessage(broadcast)), payload: encodeRoomBroadcast(broadcast) };
}

/** The main channel of the default namespace: every replica subscribes to it (the adapter's server count). */
export const FANOUT_MAIN_CHANNEL = `${FANOUT_ADAPTER_OPTIONS.channelPrefix}#/#`;

/** The sharded channel that carries broadcasts to one user's room ("dynamic" mode); in the slot of the user's key (rooms.ts). */
export function userRoomChannel(keyPrefix: string, userId: string): string {
  return `${FANOUT_MAIN_CHANNEL}${userRoom(keyPrefix, userId)}#`;
}
