/**
 * One system call for the packets a WebSocket connection has queued, not one
 * each. While Engine.IO's WebSocket transport waits for a write to complete,
 * later packets of the connection wait in its buffer; it then sends them in
 * one loop, but `ws` writes each frame on its own (cork, write, uncork), so a
 * burst of acks or `message:new`s (8 adds in flight on one tab, a replica
 * fanning out a user's adds) costs a `writev` per packet. Corking the TCP
 * socket around that loop turns the burst into one `writev`; the frames,
 * their order and their write callbacks are unchanged.
 *
 * Reads internals of engine.io's WebSocket transport (`send`, `socket`) and
 * of `ws` (`_socket`) at the versions the lockfile pins; a transport without
 * them is left as it is.
 */

interface CorkableStream {
  cork(): void;
  uncork(): void;
}

interface WebSocketTransport {
  name: string;
  send(packets: unknown[]): void;
  socket?: { _socket?: Partial<CorkableStream> };
}

const batched = new WeakSet<object>();

/** Makes `transport` (an Engine.IO transport) write what it sends in one call into one system call. */
export function batchTransportWrites(transport: unknown): void {
  const candidate = transport as Partial<WebSocketTransport> | undefined;
  if (candidate?.name !== "websocket" || typeof candidate.send !== "function" || batched.has(candidate)) return;
  const stream = candidate.socket?._socket;
  if (typeof stream?.cork !== "function" || typeof stream.uncork !== "function") return;
  const corkable = stream as CorkableStream;
  const send = candidate.send;
  batched.add(candidate);
  candidate.send = function sendBatched(this: WebSocketTransport, packets: unknown[]) {
    if (packets.length < 2) return send.call(this, packets);
    corkable.cork();
    try {
      send.call(this, packets);
    } finally {
      corkable.uncork();
    }
  };
}

/** Batches the writes of every Engine.IO connection of `engine`, including ones that upgrade to WebSocket. */
export function batchWritesOfEveryConnection(engine: {
  on(
    event: "connection",
    listener: (socket: { transport: unknown; on(event: "upgrade", listener: (transport: unknown) => void): void }) => void,
  ): void;
}): void {
  engine.on("connection", (socket) => {
    batchTransportWrites(socket.transport);
    socket.on("upgrade", (transport) => batchTransportWrites(transport));
  });
}
