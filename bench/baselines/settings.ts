import type { Socket } from "socket.io";

/** What the baseline servers are given, and what they hand back. */
export interface BaselineSettings {
  redisUrl: string;
  keyPrefix: string;
  historyMax: number;
  historyTtlSeconds: number;
  /** Size of the contents in the window the ceiling answers history:load with. */
  contentBytes: number;
  maxHttpBufferSize: number;
}

export interface BaselineServer {
  port: number;
  close(): Promise<void>;
}

/** The baselines' handshake: dev-mode `auth: { userId }`, as the bench's clients connect to scrollback. */
export function acceptDevUserId(socket: Socket, next: (error?: Error) => void): void {
  const userId = (socket.handshake.auth as { userId?: unknown }).userId;
  if (typeof userId === "string") {
    socket.data.userId = userId;
    next();
  } else next(new Error("UNAUTHORIZED"));
}
