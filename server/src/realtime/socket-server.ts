/**
 * The Socket.IO server: CORS and Origin checks at the handshake, token
 * authentication, one room per user (joined before the CONNECT ack), at most MAX_CONNECTIONS_PER_USER
 * connections per user sharing one rate limit (and disconnection of
 * connections that keep sending far past it), unknown events refused, and
 * disconnection when the token expires.
 */
import { type Server as HttpServer, type IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { CLIENT_EVENTS, ERROR_CODES } from "@scrollback/client/protocol";
import type { Logger } from "pino";
import { Server } from "socket.io";
import type { Authenticate } from "../auth/authenticator.js";
import { AppError, rateLimited, unavailable, unknownEvent } from "../errors.js";
import type { HistoryOperations } from "../history-operations.js";
import type { Metrics } from "../metrics.js";
import type { RedisConnections } from "../redis-connections.js";
import { batchWritesOfEveryConnection } from "./batched-writes.js";
import { boundConnectAttempts } from "./connect-attempts.js";
import { registerEventHandlers, splitArgs } from "./event-handlers.js";
import { createFanoutAdapter } from "./fanout-adapter.js";
import { TokenBucket } from "./rate-limiter.js";
import { joinUserRoom, roomRefusalReporter } from "./room-subscription.js";
import { disconnectOnSubscriptionLoss } from "./subscription-loss.js";
import type { ScrollbackServer, ScrollbackSocket } from "./types.js";
import { type Slot, UserSlots } from "./user-slots.js";

const KNOWN_EVENTS: ReadonlySet<string> = new Set(CLIENT_EVENTS);

// setTimeout cannot wait longer than 2^31-1 ms; longer expiries re-arm.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * After a connection is thrown out for flooding, the same user's new
 * connections on this replica start with an empty bucket for this long, so
 * reconnecting does not buy a fresh burst each time.
 */
export const FLOOD_PENALTY_MS = 10_000;

/**
 * Refused namespace CONNECTs one Engine.IO connection may send: the one that
 * reaches this count is answered, then the connection is closed; a CONNECT
 * beyond it, counted at arrival (connect-attempts.ts), closes it unanswered.
 * Without a bound a client could retry credentials on one connection for as
 * long as it likes, each try costing a token check.
 */
export const MAX_REFUSED_CONNECTS = 3;

/** Frames over this close the connection (PROTOCOL.md §4). */
export const MAX_HTTP_BUFFER_SIZE = 1e6;

export interface SocketServerOptions {
  httpServer: HttpServer;
  authenticate: Authenticate;
  service: HistoryOperations;
  metrics: Metrics;
  logger: Logger;
  corsOrigins?: string[];
  /** One event budget per user on this replica, shared by all their connections. */
  rateLimit: { perSecond: number; burst: number };
  /** Connections one user may have open on this replica; the next is refused TOO_MANY_CONNECTIONS. */
  maxConnectionsPerUser: number;
  /** Names the users' rooms (rooms.ts). */
  keyPrefix: string;
  /** Redis fan-out across replicas; without it the server is a single process. */
  redis?: RedisConnections;
}

export interface SocketServer {
  io: ScrollbackServer;
  /** Handlers still running. */
  inFlight: { count: number };
  /** Refuse new connections and events with UNAVAILABLE, so clients move to another replica. */
  startDraining(): void;
}

export function createSocketServer(options: SocketServerOptions): SocketServer {
  const { corsOrigins, metrics, logger } = options;
  let draining = false;

  const io: ScrollbackServer = new Server(options.httpServer, {
    maxHttpBufferSize: MAX_HTTP_BUFFER_SIZE,
    cors: { origin: corsOrigins ?? true, credentials: true },
    // Runs for handshakes (polling and WebSocket alike); Origin is checked on every request below.
    allowRequest: (_req: IncomingMessage, callback) => {
      if (draining) return callback("server is shutting down", false);
      callback(null, true);
    },
    ...(options.redis ? { adapter: createFanoutAdapter(options.redis.pub, options.redis.sub) } : {}),
  });

  if (corsOrigins) io.engine.use(refuseForeignOrigins(corsOrigins));
  batchWritesOfEveryConnection(io.engine);
  // The subscriber's connection is closed with the app (app.ts), which ends this too.
  if (options.redis) disconnectOnSubscriptionLoss(io, options.redis.sub, logger);

  const connectAttempts = boundConnectAttempts(io, MAX_REFUSED_CONNECTS);
  /** Refused CONNECTs so far, per Engine.IO connection (see MAX_REFUSED_CONNECTS). */
  const refusedConnects = new WeakMap<object, number>();
  /** Answers a CONNECT with `connect_error` { code, message }, counting it against the connection. */
  const refuseConnect = (socket: ScrollbackSocket, next: (error?: Error) => void, error: AppError) => {
    const refused = (refusedConnects.get(socket.conn) ?? 0) + 1;
    refusedConnects.set(socket.conn, refused);
    next(Object.assign(new Error(error.code), { data: error.toBody() }));
    // Socket.IO sends the connect_error on the next tick; close once it is written.
    if (refused >= MAX_REFUSED_CONNECTS) setImmediate(() => socket.conn.close());
  };

  /** Users recently thrown out for flooding, and until when (see FLOOD_PENALTY_MS). */
  const flooders = new Map<string, number>();
  const slots = new UserSlots({
    maxPerUser: options.maxConnectionsPerUser,
    rateLimit: options.rateLimit,
    initialTokens: (userId) => ((flooders.get(userId) ?? 0) > Date.now() ? 0 : options.rateLimit.burst),
  });
  /** The slot each accepted handshake holds, until its socket connects (then its disconnect releases it). */
  const pendingSlots = new WeakMap<ScrollbackSocket, { slot: Slot; onClose: () => void }>();
  /** The slot `socket`'s handshake holds, now the caller's to keep or release (undefined: none). */
  const takePendingSlot = (socket: ScrollbackSocket): Slot | undefined => {
    const pending = pendingSlots.get(socket);
    if (!pending) return undefined;
    pendingSlots.delete(socket);
    socket.conn.off("close", pending.onClose);
    return pending.slot;
  };

  io.use((socket, next) => {
    options.authenticate(socket.handshake.auth).then(
      (identity) => {
        // The Engine.IO connection went away during the token check: nothing to hold a slot for.
        if (socket.conn.readyState !== "open") return next(new Error("closed"));
        const slot = slots.acquire(identity.userId);
        if (!slot) {
          const message = `at most ${options.maxConnectionsPerUser} connections per user on one server`;
          return refuseConnect(socket, next, new AppError(ERROR_CODES.TOO_MANY_CONNECTIONS, message));
        }
        // Should the connection close before the socket connects, no disconnect comes: release on close then.
        const onClose = () => slot.release();
        socket.conn.once("close", onClose);
        pendingSlots.set(socket, { slot, onClose });
        socket.data = identity;
        next();
      },
      (error: unknown) => {
        const message = error instanceof AppError ? error.message : "unauthorized";
        refuseConnect(socket, next, new AppError(ERROR_CODES.UNAUTHORIZED, message));
      },
    );
  });

  const reportRoomRefusal = roomRefusalReporter(logger, metrics.roomSubscriptionFailures);
  // After authentication, before the CONNECT ack: the room's subscription is there before the client can load anything.
  io.use((socket, next) => {
    void joinUserRoom(socket, options.keyPrefix, options.redis?.sub).then((refusal) => {
      if (!refusal) return next();
      // Let in, the connection would never hear another replica's messages, and
      // nothing would tell it: refuse it, retryable, so the client tries again
      // (here or on another replica) and catches up once it is in. Refusing
      // leaves the room (Socket.IO cleans up a socket its middleware refuses).
      reportRoomRefusal(socket.data.userId, refusal);
      takePendingSlot(socket)?.release();
      refuseConnect(socket, next, new AppError(ERROR_CODES.UNAVAILABLE, "the server could not subscribe to your live messages; retry"));
    });
  });

  const inFlight = { count: 0 };
  io.on("connection", (socket) => {
    const slot = takePendingSlot(socket);
    // The middleware leaves a slot for every socket it lets through; without one, refuse rather than go unbounded.
    if (!slot) return void socket.disconnect(true);
    connectAttempts.connected(socket);
    metrics.connections.inc();
    const expiryTimer = scheduleExpiry(socket);
    guardEvents(socket, slot.bucket);
    registerEventHandlers(socket, { service: options.service, metrics, logger, inFlight });
    socket.on("disconnect", () => {
      slot.release();
      metrics.connections.dec();
      clearTimeout(expiryTimer.current);
    });
  });

  /** Rate limit every event against the user's shared `bucket`, refuse unknown ones and everything once draining. */
  function guardEvents(socket: ScrollbackSocket, bucket: TokenBucket): void {
    const { perSecond, burst } = options.rateLimit;
    const { userId } = socket.data;
    // Each RATE_LIMITED refusal takes a token from a second bucket of the same
    // size: a client that honours retryAfterMs never empties it, a flood does
    // after about `burst` refusals and is disconnected.
    const refusals = new TokenBucket(perSecond, burst);
    socket.use((packet, next) => {
      const event = String(packet[0]);
      const { ack } = splitArgs(packet.slice(1));
      const refuse = (error: AppError) => {
        metrics.events.inc({ event: KNOWN_EVENTS.has(event) ? event : "unknown", outcome: error.code });
        ack?.({ ok: false, error: error.toBody() });
      };
      if (draining) return refuse(unavailable("server is shutting down, retry on another replica"));
      const waitMs = bucket.take();
      if (waitMs > 0) {
        refuse(rateLimited(waitMs));
        if (refusals.take() > 0 && socket.connected) {
          metrics.rateLimitDisconnects.inc();
          logger.warn({ userId }, "disconnecting a connection that keeps sending past its rate limit");
          if (flooders.size >= 1_000) for (const [user, until] of flooders) if (until <= Date.now()) flooders.delete(user);
          flooders.set(userId, Date.now() + FLOOD_PENALTY_MS);
          socket.disconnect(true);
        }
        return;
      }
      if (!KNOWN_EVENTS.has(event)) return refuse(unknownEvent(event));
      next();
    });
  }

  return {
    io,
    inFlight,
    startDraining() {
      draining = true;
    },
  };
}

/**
 * CORS_ORIGINS on every Engine.IO request: handshakes, and also the polling
 * requests and WebSocket upgrades that carry an existing session id (which
 * engine.io's allowRequest never sees), so a session opened from a listed
 * origin cannot be driven from another. Answers 403 in both transports
 * (engine.io itself answers any refused upgrade 400).
 */
function refuseForeignOrigins(corsOrigins: string[]) {
  return (req: IncomingMessage, res: ServerResponse, next: (error?: Error) => void) => {
    const origin = req.headers.origin;
    if (origin === undefined || corsOrigins.includes(origin)) return next();
    const body = JSON.stringify({ code: 4, message: "Forbidden" });
    if (res instanceof ServerResponse) {
      res.writeHead(403, { "content-type": "application/json" }).end(body);
      return;
    }
    // A WebSocket upgrade: engine.io hands middlewares a stand-in response, so answer on the raw socket.
    const { socket } = res as unknown as { socket: Duplex };
    socket.end(
      `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  };
}

/** Ends the connection with `auth:expired` once the token's exp plus leeway passes. */
function scheduleExpiry(socket: ScrollbackSocket): { current?: NodeJS.Timeout } {
  const timer: { current?: NodeJS.Timeout } = {};
  const expiresAt = socket.data.expiresAt;
  if (expiresAt === undefined) return timer;
  const arm = () => {
    const remaining = expiresAt - Date.now();
    if (remaining > MAX_TIMER_MS) {
      timer.current = setTimeout(arm, MAX_TIMER_MS);
      return;
    }
    timer.current = setTimeout(
      () => {
        socket.emit("auth:expired", {});
        socket.disconnect(true);
      },
      Math.max(0, remaining),
    );
  };
  arm();
  return timer;
}
