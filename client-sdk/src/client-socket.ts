/** The typed Socket.IO socket the SDK's parts share (internal; not exported by index.ts). */
import type { Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "./protocol/events.js";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
