/**
 * The Socket.IO Redis adapter that carries fan-out between replicas, in one
 * place: the server and the operator CLI (which publishes `history:cleared`
 * and listens to one user's broadcasts) must agree on its channels.
 */
import { createShardedAdapter } from "@socket.io/redis-adapter";
import type { RedisClient } from "../redis-connections.js";
import { encodeRoomBroadcast, roomBroadcastMessage, senderPrefix } from "./adapter-wire-format.js";
import { userRoom } from "./rooms.js";

/**
 * Sharded Pub/Sub, "dynamic": each user room gets its own channel, so a
 * replica only receives broadcasts for users it has connections for.
 */
export const FANOUT_ADAPTER_OPTIONS = { channelPrefix: "socket.io", subscriptionMode: "dynamic" } as const;

/**
 * What the sharded adapter uses to publish a broadcast: the same calls its
 * own `doPublish` makes, and the id it stamps on its messages. They are not
 * in its typings, so each use checks they are there.
 */
interface AdapterInternals {
  uid: string;
  computeChannel(message: unknown): string;
  onRawMessage(raw: Buffer, channel: Buffer): void;
}

function internalsOf(adapter: unknown): AdapterInternals | undefined {
  const candidate = adapter as Partial<AdapterInternals> | undefined;
  return typeof candidate?.uid === "string" && typeof candidate.computeChannel === "function" && typeof candidate.onRawMessage === "function"
    ? (candidate as AdapterInternals)
    : undefined;
}

/** The adapter factory to pass to `new Server({ adapter })`. */
export function createFanoutAdapter(pub: RedisClient, sub: RedisClient): ReturnType<typeof createShardedAdapter> {
  const factory = createShardedAdapter(pub, sub, FANOUT_ADAPTER_OPTIONS);
  // A function, not an arrow: Socket.IO calls it with `new` (and gets the returned adapter).
  return function fanoutAdapter(nsp: unknown) {
    const adapter = factory(nsp);
    skipOwnBroadcasts(adapter);
    return adapter;
  };
}

/**
 * A replica receives back every broadcast it publishes to a room it has
 * connections in, and the adapter parses it only to find its own id and drop
 * it. Broadcasts built by {@link prepareRoomBroadcast} start with that id, so
 * they are dropped here before parsing.
 */
function skipOwnBroadcasts(adapter: unknown): void {
  const internals = internalsOf(adapter);
  if (!internals) return;
  const ownPrefix = senderPrefix(internals.uid);
  const onRawMessage = internals.onRawMessage.bind(adapter);
  internals.onRawMessage = (raw, channel) => {
    if (raw.length > ownPrefix.length && raw.compare(ownPrefix, 0, ownPrefix.length, 0, ownPrefix.length) === 0) return;
    onRawMessage(raw, channel);
  };
}

/**
 * The channel and message the adapter would publish for
 * `io.to(room).except(exceptSocketId).emit(event, payload)`, so that another
 * connection (the store's, inside its write) can publish it instead: the
 * other replicas cannot tell the difference. Undefined when `adapter` is not
 * the sharded Redis adapter.
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
  const broadcast = { uid: internals.uid, room, except: exceptSocketId ? [exceptSocketId] : [], event, payload };
  return { channel: internals.computeChannel(roomBroadcastMessage(broadcast)), payload: encodeRoomBroadcast(broadcast) };
}

/** The main channel of the default namespace: every replica subscribes to it (the adapter's server count). */
export const FANOUT_MAIN_CHANNEL = `${FANOUT_ADAPTER_OPTIONS.channelPrefix}#/#`;

/** The sharded channel that carries broadcasts to one user's room ("dynamic" mode). */
export function userRoomChannel(userId: string): string {
  return `${FANOUT_MAIN_CHANNEL}${userRoom(userId)}#`;
}
