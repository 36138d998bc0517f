/**
 * The bound on CONNECT attempts per Engine.IO connection (PROTOCOL.md §3):
 * every namespace CONNECT packet counts when it arrives, and stops counting
 * once it has become a connected socket. When `max` attempts are counted (in
 * flight or refused, for any reason: a bad token, too many connections, an
 * unknown namespace), the next CONNECT closes the connection without being
 * looked at, so no more than `max` token checks run per Engine.IO connection
 * beyond the successful ones, even for CONNECTs sent all at once.
 */
import type { EventEmitter } from "node:events";
import type { ScrollbackServer, ScrollbackSocket } from "./types.js";

/** Engine.IO's per-connection socket, as far as this module uses it. */
type EngineConnection = EventEmitter & { close(): void };

export interface ConnectAttempts {
  /** Call when a CONNECT became a connected socket: it no longer counts. */
  connected(socket: ScrollbackSocket): void;
}

export function boundConnectAttempts(io: ScrollbackServer, max: number): ConnectAttempts {
  /** Attempts that have not (yet) become a connected socket, per Engine.IO connection. */
  const pending = new WeakMap<object, number>();
  io.engine.on("connection", (conn: EngineConnection) => {
    // Socket.IO's own "connection" listener was registered when io was built,
    // so it has already run: its Client listens for "data" and decodes each
    // packet. Its listeners now get the data only through the gate below.
    const decoders = conn.listeners("data") as ((data: unknown) => void)[];
    conn.removeAllListeners("data");
    pending.set(conn, 0);
    conn.on("data", (data: unknown) => {
      // A Socket.IO CONNECT packet is a text packet of type 0 (PROTOCOL.md §3); attachments are binary.
      if (typeof data === "string" && data.startsWith("0")) {
        const attempts = pending.get(conn) ?? 0;
        if (attempts >= max) return conn.close();
        pending.set(conn, attempts + 1);
      }
      for (const decode of decoders) decode.call(conn, data);
    });
  });
  return {
    connected(socket) {
      const attempts = pending.get(socket.conn);
      if (attempts !== undefined) pending.set(socket.conn, Math.max(0, attempts - 1));
    },
  };
}
