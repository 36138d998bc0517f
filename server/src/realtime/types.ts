/** The typed Socket.IO server and socket of scrollback. */
import type { ClientToServerEvents, ServerToClientEvents } from "@scrollback/client/protocol";
import type { Server, Socket } from "socket.io";

/** What the server knows about a connection once authenticated. */
export interface SocketData {
  userId: string;
  /** When the token expires (plus leeway), in ms since the epoch. */
  expiresAt?: number;
}

export type ScrollbackServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type ScrollbackSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
