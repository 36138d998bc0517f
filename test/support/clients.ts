/** socket.io-client helpers that wait on events, never on sleeps. */
import type { ClientToServerEvents, ServerToClientEvents } from "@scrollback/client/protocol";
import { SignJWT } from "jose";
import { io, type Socket } from "socket.io-client";

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Connects over WebSocket and resolves once connected (rejects with the connect_error). */
export function connect(url: string, auth: Record<string, unknown>, options: { origin?: string } = {}): Promise<TestSocket> {
  const socket: TestSocket = io(url, {
    auth,
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...(options.origin ? { extraHeaders: { origin: options.origin } } : {}),
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Emits an event with an ack and resolves with the ack's answer. */
export function request<T = any>(socket: TestSocket, event: string, ...args: unknown[]): Promise<T> {
  return (socket as unknown as Socket).timeout(10_000).emitWithAck(event, ...args) as Promise<T>;
}

/** Resolves with the next `event` the socket receives. */
export function nextEvent<T = any>(socket: TestSocket, event: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    (socket as unknown as Socket).once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/** Collects every `event` the socket receives, for asserting that nothing else arrived. */
export function collect<T = any>(socket: TestSocket, event: string): T[] {
  const seen: T[] = [];
  (socket as unknown as Socket).on(event, (payload: T) => seen.push(payload));
  return seen;
}

export const TEST_SECRET = "test-secret-that-is-long-enough-for-hs256";

/** An HS256 token for `sub`, valid for `expiresInSeconds`. */
export async function signToken(
  sub: unknown,
  options: { secret?: string; expiresAt?: number; notBefore?: number; issuer?: string; audience?: string } = {},
): Promise<string> {
  const jwt = new SignJWT(sub === undefined ? {} : { sub: sub as string }).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  jwt.setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 3600);
  if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}
