/**
 * Delivers the store's broadcasts without decoding them. The stock sharded
 * adapter JSON.parses every message it receives and socket.io-adapter then
 * encodes the Socket.IO packet again, once per broadcast; a broadcast the
 * store published already carries that packet's bytes, in the layout
 * adapter-wire-format.ts writes (packet data last). For those, this replica
 * reads the small head (sender, room, except list), slices the packet, and
 * hands it to the local sockets of the room exactly as the adapter's own
 * `broadcast` does (`apply`, `_encode`'s precomputed WebSocket frame,
 * `writeToEngine` with `preEncoded`). Everything else, and everything when
 * the internals below are missing, takes the stock path.
 *
 * A user room's channel is not the replicas' alone: a direct writer may
 * publish there too (PROTOCOL.md §9, dev/redis-acl.ts directWriterAclRule).
 * So what arrives on a room's channel is delivered only as what the adapter
 * itself publishes there: a broadcast to exactly that room (the channel
 * names it) of one of the server's room events. The fast path further
 * wants the store's sender id and checks that the packet is JSON of
 * `[event, payload]` before the first socket gets it; anything it refuses
 * goes to the stock path, which on a room's channel parses the message and
 * drops what is not such a broadcast (other rooms, `rooms: []` i.e. every
 * socket, DISCONNECT_SOCKETS and the other adapter messages, bad JSON,
 * MessagePack: the server never sends binary data). The main and response
 * channels are the replicas' (the direct writer's ACL does not cover them)
 * and keep the stock path unchanged.
 *
 * Both paths run synchronously in the subscriber's message handler, so a
 * user's adds and clears still reach each tab in the order Redis published
 * them (PROTOCOL.md §4).
 *
 * The internals are socket.io-adapter's and socket.io's at the versions
 * server/package.json pins (adapter-wire-format.ts's ADAPTER_FORMAT_VERSION);
 * test/integration/adapter-wire-format.test.ts fails if they change.
 */
import { type ForwardableBroadcast, isBroadcastToRoom, parseJson, readForwardableBroadcast } from "./adapter-wire-format.js";

interface PacketOptions {
  preEncoded: true;
  volatile?: boolean;
  compress?: boolean;
  wsPreEncodedFrame?: unknown;
}

interface LocalSocket {
  listenersAnyOutgoing(): unknown[];
  notifyOutgoingListeners(packet: unknown): void;
  client: { writeToEngine(encodedPackets: unknown[], options: PacketOptions): void };
}

/** What the adapter's `broadcast` uses, read off the adapter instance. */
interface AdapterInternals {
  uid: string;
  /** The namespace's main channel (`socket.io#/#`); a room's channel is this, the room, and `#`. */
  channel: string;
  /** This replica's channel for answers to its requests. */
  responseChannel: string;
  nsp: { name: string; server: { opts?: { connectionStateRecovery?: unknown } } };
  onRawMessage(raw: Buffer, channel: Buffer | string): void;
  onMessage(message: unknown): void;
  apply(opts: { rooms: Set<string>; except: Set<string> }, each: (socket: LocalSocket) => void): void;
  _encode(packet: unknown, options: PacketOptions): unknown[];
}

function internalsOf(adapter: unknown): AdapterInternals | undefined {
  const candidate = adapter as Partial<AdapterInternals> | undefined;
  const usable =
    typeof candidate?.uid === "string" &&
    typeof candidate.channel === "string" &&
    typeof candidate.responseChannel === "string" &&
    typeof candidate.nsp?.name === "string" &&
    typeof candidate.onRawMessage === "function" &&
    typeof candidate.onMessage === "function" &&
    typeof candidate.apply === "function" &&
    typeof candidate._encode === "function";
  return usable ? (candidate as AdapterInternals) : undefined;
}

/**
 * Makes `adapter` (the sharded Redis adapter of one namespace) deliver what
 * arrives on a room's channel only as a broadcast to that room, and the
 * broadcasts sent by `storeSenderUid` in adapter-wire-format.ts's layout
 * without decoding them. Returns `adapter`, unchanged when it lacks the
 * internals this needs.
 */
export function deliverPreEncoded<T>(adapter: T, storeSenderUid: string): T {
  const internals = internalsOf(adapter);
  if (!internals) return adapter;
  const stockOnRawMessage = internals.onRawMessage.bind(internals);
  const onMessage = internals.onMessage.bind(internals);
  // Connection state recovery stamps an offset into each packet's data: the stock path does that.
  const fastPath = internals.nsp.name === "/" && !internals.nsp.server.opts?.connectionStateRecovery;
  // The constructor's subscription handler calls `this.onRawMessage`, so the instance's own property takes over.
  internals.onRawMessage = (raw, channel) => {
    const room = roomOfChannel(internals, channel.toString());
    if (room === undefined) {
      stockOnRawMessage(raw, channel);
      return;
    }
    if (fastPath && Buffer.isBuffer(raw)) {
      const broadcast = readForwardableBroadcast(raw);
      const toRoom = broadcast?.opts.rooms.length === 1 && broadcast.opts.rooms[0] === room;
      if (broadcast?.uid === storeSenderUid && toRoom && deliver(internals, broadcast)) return;
    }
    // The stock onRawMessage for a channel other than the response one, JSON only, less what the room's channel may not carry.
    const message = raw[0] === 0x7b ? parseJson(raw.toString()) : undefined;
    if (isBroadcastToRoom(message, internals.nsp.name, room)) onMessage(message);
  };
  return adapter;
}

/** The room whose channel `channel` is, or undefined for the main and response channels. */
function roomOfChannel(internals: AdapterInternals, channel: string): string | undefined {
  if (channel === internals.channel || channel === internals.responseChannel) return undefined;
  const isRoomChannel = channel.startsWith(internals.channel) && channel.endsWith("#") && channel.length > internals.channel.length + 1;
  return isRoomChannel ? channel.slice(internals.channel.length, -1) : undefined;
}

/**
 * socket.io-adapter's `broadcast`, with the packet already encoded, and
 * the WebSocket frame made only once a local socket is to get it: the
 * replica that wrote an add receives its own broadcast, with nobody to send
 * it to when the user's one tab sent it (`except`). False, having sent
 * nothing, when the packet is not what the store sends (`packet()` null).
 */
function deliver(internals: AdapterInternals, broadcast: ForwardableBroadcast): boolean {
  const { rooms, except, flags } = broadcast.opts;
  const options: PacketOptions = { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
  let encoded: unknown[] | undefined;
  let decoded: unknown;
  let refused = false;
  internals.apply({ rooms: new Set(rooms), except: new Set(except) }, (socket) => {
    if (refused) return;
    const packet = broadcast.packet();
    if (packet === null) {
      refused = true;
      return;
    }
    // `_encode` asks `this.encoder` for the packets, then precomputes the WebSocket frame of a single string one.
    encoded ??= internals._encode.call({ encoder: { encode: () => [packet] } }, undefined, options);
    // Only `onAnyOutgoing` listeners need the packet as an object (none in this server): decode it for them alone.
    if (socket.listenersAnyOutgoing().length > 0) {
      decoded ??= { type: 2, nsp: "/", data: JSON.parse(packet.slice(1)) };
      socket.notifyOutgoingListeners(decoded);
    }
    socket.client.writeToEngine(encoded, options);
  });
  return !refused;
}
