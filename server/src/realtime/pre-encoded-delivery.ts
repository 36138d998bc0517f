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
 * the internals below are missing, takes the stock path unchanged.
 *
 * Both paths run synchronously in the subscriber's message handler, so a
 * user's adds and clears still reach each tab in the order Redis published
 * them (PROTOCOL.md §4).
 *
 * The internals are socket.io-adapter's and socket.io's at the versions
 * server/package.json pins (adapter-wire-format.ts's ADAPTER_FORMAT_VERSION);
 * test/integration/adapter-wire-format.test.ts fails if they change.
 */
import { type ForwardableBroadcast, readForwardableBroadcast } from "./adapter-wire-format.js";

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
  nsp: { name: string; server: { opts?: { connectionStateRecovery?: unknown } } };
  onRawMessage(raw: Buffer, channel: Buffer | string): void;
  apply(opts: { rooms: Set<string>; except: Set<string> }, each: (socket: LocalSocket) => void): void;
  _encode(packet: unknown, options: PacketOptions): unknown[];
}

function internalsOf(adapter: unknown): AdapterInternals | undefined {
  const candidate = adapter as Partial<AdapterInternals> | undefined;
  const usable =
    typeof candidate?.uid === "string" &&
    typeof candidate.nsp?.name === "string" &&
    typeof candidate.onRawMessage === "function" &&
    typeof candidate.apply === "function" &&
    typeof candidate._encode === "function";
  return usable ? (candidate as AdapterInternals) : undefined;
}

/**
 * Makes `adapter` (the sharded Redis adapter of one namespace) deliver the
 * broadcasts it receives in adapter-wire-format.ts's layout without decoding
 * them. Returns `adapter`, unchanged when it lacks the internals this needs.
 */
export function deliverPreEncoded<T>(adapter: T): T {
  const internals = internalsOf(adapter);
  // Connection state recovery stamps an offset into each packet's data: the stock path does that.
  if (internals?.nsp.name !== "/" || internals.nsp.server.opts?.connectionStateRecovery) return adapter;
  const stockOnRawMessage = internals.onRawMessage.bind(internals);
  // The constructor's subscription handler calls `this.onRawMessage`, so the instance's own property takes over.
  internals.onRawMessage = (raw, channel) => {
    const broadcast = Buffer.isBuffer(raw) ? readForwardableBroadcast(raw) : null;
    if (!broadcast) {
      stockOnRawMessage(raw, channel);
      return;
    }
    // As ClusterAdapter.onMessage: a replica ignores what it sent itself.
    if (broadcast.uid === internals.uid) return;
    deliver(internals, broadcast);
  };
  return adapter;
}

/**
 * socket.io-adapter's `broadcast`, with the packet already encoded, and
 * the WebSocket frame made only once a local socket is to get it: the
 * replica that wrote an add receives its own broadcast, with nobody to send
 * it to when the user's one tab sent it (`except`).
 */
function deliver(internals: AdapterInternals, broadcast: ForwardableBroadcast): void {
  const { rooms, except, flags } = broadcast.opts;
  const options: PacketOptions = { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
  let encoded: unknown[] | undefined;
  let decoded: unknown;
  internals.apply({ rooms: new Set(rooms), except: new Set(except) }, (socket) => {
    // `_encode` asks `this.encoder` for the packets, then precomputes the WebSocket frame of a single string one.
    encoded ??= internals._encode.call({ encoder: { encode: () => [broadcast.packet()] } }, undefined, options);
    // Only `onAnyOutgoing` listeners need the packet as an object (none in this server): decode it for them alone.
    if (socket.listenersAnyOutgoing().length > 0) {
      decoded ??= { type: 2, nsp: "/", data: JSON.parse(broadcast.packet().slice(1)) };
      socket.notifyOutgoingListeners(decoded);
    }
    socket.client.writeToEngine(encoded, options);
  });
}
