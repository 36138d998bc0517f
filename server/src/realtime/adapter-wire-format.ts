/**
 * The Socket.IO Redis adapter's message format for one room broadcast, in one
 * place: the store publishes broadcasts it encodes here within its write
 * (fanout-adapter.ts), and the CLI decodes the ones it reads off a room's
 * channel (cli/room-broadcasts.ts).
 *
 * This is not a public API of @socket.io/redis-adapter: it is read from
 * its sharded adapter (`ShardedRedisAdapter.encode`/`onRawMessage`) and
 * socket.io-adapter's `ClusterAdapter` (`MessageType`, `onMessage`), at the
 * version below, which server/package.json pins exactly.
 * test/integration/adapter-wire-format.test.ts fails if an upgrade changes it.
 */

/** The @socket.io/redis-adapter version this format was read from. */
export const ADAPTER_FORMAT_VERSION = "8.3.0";

// socket.io-adapter's MessageType.BROADCAST and socket.io-parser's PacketType.EVENT.
const BROADCAST = 3;
const EVENT = 2;

/** `io.to(room).except(except).emit(event, payload)`, as it travels between replicas. */
export interface RoomBroadcast {
  /** The id of the adapter (replica) that sent it: each adapter drops its own. */
  uid: string;
  room: string;
  except: string[];
  event: string;
  payload: unknown;
}

/** The message object the adapter publishes for `broadcast` (its channel is computed from it). */
export function roomBroadcastMessage(broadcast: RoomBroadcast) {
  return {
    uid: broadcast.uid,
    nsp: "/",
    type: BROADCAST,
    data: {
      packet: { type: EVENT, data: [broadcast.event, broadcast.payload] },
      opts: { rooms: [broadcast.room], except: broadcast.except, flags: {} },
    },
  };
}

/**
 * What the adapter publishes for `broadcast`: plain JSON, as it encodes any
 * message without binary data (our payloads are JSON by schema).
 */
export function encodeRoomBroadcast(broadcast: RoomBroadcast): string {
  return JSON.stringify(roomBroadcastMessage(broadcast));
}

/**
 * The broadcast in a message read off an adapter channel, or null for
 * anything else (other message types, MessagePack-encoded binary packets,
 * garbage).
 */
export function decodeRoomBroadcast(raw: Buffer): RoomBroadcast | null {
  if (raw[0] !== 0x7b) return null;
  let message: unknown;
  try {
    message = JSON.parse(raw.toString("utf8"));
  } catch {
    return null;
  }
  const { uid, type, data } = (message ?? {}) as {
    uid?: unknown;
    type?: unknown;
    data?: { packet?: { type?: unknown; data?: unknown }; opts?: { rooms?: unknown; except?: unknown } };
  };
  const packet = data?.packet;
  if (type !== BROADCAST || packet?.type !== EVENT || !Array.isArray(packet.data) || typeof packet.data[0] !== "string") return null;
  const rooms = Array.isArray(data?.opts?.rooms) ? (data.opts.rooms as unknown[]) : [];
  const except = Array.isArray(data?.opts?.except) ? (data.opts.except as unknown[]) : [];
  return {
    uid: typeof uid === "string" ? uid : "",
    room: typeof rooms[0] === "string" ? rooms[0] : "",
    except: except.filter((id): id is string => typeof id === "string"),
    event: packet.data[0],
    payload: packet.data[1],
  };
}
