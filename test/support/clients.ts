/** socket.io-client helpers that wait on events, never on sleeps. */
import type { AckError, ClientToServerEvents, ServerToClientEvents } from "@scrollback/client/protocol";
import { SignJWT } from "jose";
import { io, type Socket, type SocketReservedEvents } from "socket.io-client";

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

export type ClientEvent = keyof ClientToServerEvents;
/** What `event` carries, as the protocol's event map says. */
export type PayloadOf<E extends ClientEvent> = Parameters<ClientToServerEvents[E]>[0];
/** What the server acks `event` with: success or an {@link AckError}. */
export type AckOf<E extends ClientEvent> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
/** The success branch of {@link AckOf}. */
export type OkAckOf<E extends ClientEvent> = Exclude<AckOf<E>, AckError>;
/** The payload argument; optional where every field is (the server then reads no payload as `{}`). */
type PayloadArgs<E extends ClientEvent> = Record<string, never> extends PayloadOf<E> ? [payload?: PayloadOf<E>] : [payload: PayloadOf<E>];

/**
 * Emits a protocol event with an ack and resolves with the answer: the event
 * name decides the payload and ack types, so a wrong payload does not compile.
 */
export function request<E extends ClientEvent>(socket: TestSocket, event: E, ...payload: PayloadArgs<E>): Promise<AckOf<E>> {
  return requestRaw<AckOf<E>>(socket, event, ...payload);
}

/** {@link request} for a call that must succeed: rejects with the error code if it was refused. */
export async function requestOk<E extends ClientEvent>(socket: TestSocket, event: E, ...payload: PayloadArgs<E>): Promise<OkAckOf<E>> {
  const ack = await request(socket, event, ...payload);
  if (!ack.ok) throw new Error(`${event} refused: ${ack.error.code} ${ack.error.message}`);
  return ack as OkAckOf<E>;
}

/**
 * Emits anything (any event, any arguments) with an ack: for tests that send what the protocol forbids.
 * `T` is the answer the test expects; nothing checks it.
 */
export function requestRaw<T = unknown>(socket: TestSocket, event: string, ...args: unknown[]): Promise<T> {
  return (socket as unknown as Socket).timeout(10_000).emitWithAck(event, ...args) as Promise<T>;
}

/** What a test can listen for: the protocol's events and socket.io's own (`disconnect`, ...). */
type ReceivedEvents = ServerToClientEvents & SocketReservedEvents;
type ReceivedEvent = keyof ReceivedEvents;
/** The first argument a listener of `event` gets: a protocol payload, or e.g. the disconnect reason. */
export type ReceivedOf<E extends ReceivedEvent> = Parameters<ReceivedEvents[E]>[0];

/**
 * Reconnects `socket` whenever it is disconnected by anything but the test
 * itself, as the SDK does: a replica that lost its fan-out subscription
 * disconnects its tabs so they catch up (PROTOCOL.md §4), and the client may
 * see that as the server's DISCONNECT or, when the transport closes first, as
 * "transport close"; either way a fault test's tab should carry on.
 */
export function reconnectWhenServerDisconnects(socket: TestSocket): void {
  socket.on("disconnect", (reason) => {
    if (reason !== "io client disconnect") socket.connect();
  });
}

/** Resolves with the next `event` the socket receives. */
export function nextEvent<E extends ReceivedEvent>(socket: TestSocket, event: E, timeoutMs = 5_000): Promise<ReceivedOf<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    (socket as unknown as Socket).once(event as string, (payload: ReceivedOf<E>) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/** Collects every `event` the socket receives, for asserting that nothing else arrived. */
export function collect<E extends ReceivedEvent>(socket: TestSocket, event: E): ReceivedOf<E>[] {
  const seen: ReceivedOf<E>[] = [];
  (socket as unknown as Socket).on(event as string, (payload: ReceivedOf<E>) => seen.push(payload));
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
