/**
 * The Socket.IO Redis adapter's message format for one room broadcast, in one
 * place: the store publishes broadcasts it encodes here within its write
 * (fanout-adapter.ts), the receiving replicas forward them to their sockets
 * without decoding the payload (pre-encoded-delivery.ts), and the CLI
 * decodes the ones it reads off a room's channel (cli/room-broadcasts.ts).
 *
 * This is not a public API of @socket.io/redis-adapter: it is read from
 * its sharded adapter (`ShardedRedisAdapter.encode`/`onRawMessage`) and
 * socket.io-adapter's `ClusterAdapter` (`MessageType`, `onMessage`), at the
 * version below, which server/package.json pins exactly.
 * test/integration/adapter-wire-format.test.ts fails if an upgrade changes it.
 */

import type { ServerToClientEvents } from "@scrollback/client/protocol";

/** The @socket.io/redis-adapter version this format was read from. */
export const ADAPTER_FORMAT_VERSION = "8.3.0";

/**
 * The events the server sends to a user's room (`auth:expired` goes to one
 * socket): a user room's channel carries nothing else (pre-encoded-delivery.ts).
 */
const ROOM_EVENTS: ReadonlySet<string> = new Set<keyof ServerToClientEvents>([
  "message:new",
  "history:cleared",
  "draft:update",
  "draft:discarded",
]);

/** A Socket.IO EVENT packet's data as the server sends it to a room: `[one of ROOM_EVENTS, payload]`. */
function isRoomEventData(data: unknown): boolean {
  return Array.isArray(data) && data.length === 2 && typeof data[0] === "string" && ROOM_EVENTS.has(data[0]);
}

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
 * message without binary data (our payloads are JSON by schema). Its keys
 * are in the order {@link readForwardableBroadcast} recognises, the Socket.IO
 * packet's data last, so that a receiving replica can send those bytes on
 * without parsing them; any reader of JSON, the stock adapter included,
 * reads the same message as `roomBroadcastMessage(broadcast)`.
 */
export function encodeRoomBroadcast(broadcast: RoomBroadcast): string {
  const opts = JSON.stringify({ rooms: [broadcast.room], except: broadcast.except, flags: {} });
  const packetData = JSON.stringify([broadcast.event, broadcast.payload]);
  return `${HEAD}${JSON.stringify(broadcast.uid)}${OPTS_AT}${opts}${PACKET_AT}${packetData}${TAIL}`;
}

// The fixed parts of encodeRoomBroadcast's layout.
const HEAD = '{"uid":';
const OPTS_AT = `,"nsp":"/","type":${BROADCAST},"data":{"opts":`;
const PACKET_AT = `,"packet":{"type":${EVENT},"data":`;
const TAIL = "}}}";
const HEAD_BYTES = Buffer.from(HEAD);
const OPTS_AT_BYTES = Buffer.from(OPTS_AT);
const PACKET_AT_BYTES = Buffer.from(PACKET_AT);
const TAIL_BYTES = Buffer.from(TAIL);
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A room broadcast in {@link encodeRoomBroadcast}'s layout, its Socket.IO packet left encoded. */
export interface ForwardableBroadcast {
  uid: string;
  /** socket.io-adapter's BroadcastOptions as they travel (arrays, not sets). */
  opts: { rooms: string[]; except: string[]; flags: { volatile?: boolean; compress?: boolean } };
  /**
   * The Socket.IO packet as socket.io-parser encodes an EVENT in the main
   * namespace without an ack id: "2" and the JSON of its data, i.e. exactly
   * what the receiving adapter would encode again after parsing it. A
   * function: the bytes are decoded (and checked) only when some socket is
   * to get them. Null when they are not JSON of `[room event, payload]`
   * (a forgery: the layout's head says nothing of what follows).
   */
  packet(): string | null;
}

/**
 * The broadcast in `raw` when it has {@link encodeRoomBroadcast}'s layout
 * (the store's broadcasts), reading only its small head: the packet's data
 * is sliced, and parsed only to check it once a socket is to get it
 * (`packet()`). Null for anything else (the stock adapter's own messages put
 * the packet first), which the stock path then reads.
 *
 * The fixed parts are found by their first occurrence: each starts with
 * `,"`, which cannot occur inside a JSON string (a quote there is escaped).
 */
export function readForwardableBroadcast(raw: Buffer): ForwardableBroadcast | null {
  if (raw.length < HEAD_BYTES.length + TAIL_BYTES.length || HEAD_BYTES.compare(raw, 0, HEAD_BYTES.length) !== 0) return null;
  const optsAt = raw.indexOf(OPTS_AT_BYTES, HEAD_BYTES.length);
  if (optsAt < 0) return null;
  const optsStart = optsAt + OPTS_AT_BYTES.length;
  const packetAt = raw.indexOf(PACKET_AT_BYTES, optsStart);
  if (packetAt < 0) return null;
  const dataStart = packetAt + PACKET_AT_BYTES.length;
  const dataEnd = raw.length - TAIL_BYTES.length;
  if (dataEnd <= dataStart || TAIL_BYTES.compare(raw, dataEnd, raw.length) !== 0) return null;
  if (raw[dataStart] !== OPEN_BRACKET || raw[dataEnd - 1] !== CLOSE_BRACKET) return null;
  let uid: unknown;
  let opts: unknown;
  try {
    uid = JSON.parse(raw.toString("utf8", HEAD_BYTES.length, optsAt));
    opts = JSON.parse(raw.toString("utf8", optsStart, packetAt));
  } catch {
    return null;
  }
  if (typeof uid !== "string" || !isBroadcastOptions(opts)) return null;
  let packet: string | null | undefined;
  const readPacket = () => {
    const data = raw.toString("utf8", dataStart, dataEnd);
    return isRoomEventData(parseJson(data)) ? `${EVENT}${data}` : null;
  };
  return {
    uid,
    opts,
    packet: () => {
      if (packet === undefined) packet = readPacket();
      return packet;
    },
  };
}

/** `text` parsed as JSON, or undefined when it is not JSON (a forged message must not throw in a handler). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Whether `message` (an adapter message, parsed) is what a user room's
 * channel may carry: a broadcast without acknowledgement to exactly `room`,
 * in namespace `nsp`, of an EVENT packet without ack id whose data is one of
 * the server's room events. The adapter publishes nothing else there
 * (`computeChannel`); anything else was forged by another publisher.
 */
export function isBroadcastToRoom(message: unknown, nsp: string, room: string): boolean {
  const candidate = message as {
    nsp?: unknown;
    type?: unknown;
    data?: { requestId?: unknown; packet?: { type?: unknown; id?: unknown; data?: unknown }; opts?: unknown };
  } | null;
  if (typeof candidate !== "object" || candidate === null || candidate.nsp !== nsp || candidate.type !== BROADCAST) return false;
  const { data } = candidate;
  if (typeof data !== "object" || data === null || data.requestId !== undefined) return false;
  const { packet, opts } = data;
  return (
    typeof packet === "object" &&
    packet !== null &&
    packet.type === EVENT &&
    packet.id === undefined &&
    isRoomEventData(packet.data) &&
    isBroadcastOptions(opts) &&
    opts.rooms.length === 1 &&
    opts.rooms[0] === room
  );
}

function isBroadcastOptions(opts: unknown): opts is ForwardableBroadcast["opts"] {
  const candidate = opts as Partial<ForwardableBroadcast["opts"]> | null;
  const strings = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === "string");
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    strings(candidate.rooms) &&
    strings(candidate.except) &&
    typeof candidate.flags === "object" &&
    candidate.flags !== null
  );
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
