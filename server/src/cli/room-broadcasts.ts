/**
 * Reading the fan-out as it passes through Redis: every `message:new` and
 * `history:cleared` that any replica (or the HTTP API behind it) sends to a
 * user's room is published on that room's sharded channel
 * (realtime/fanout-adapter.ts). Subscribing there sees them all without
 * connecting as the user, needing a token, or counting as a connection.
 */
import type { Message } from "@scrollback/client/protocol";
import type { RedisClient } from "../redis-connections.js";
import { userRoomChannel } from "../realtime/fanout-adapter.js";

/** One event sent to all of a user's connections (auth:expired goes to one socket, not the room). */
export type RoomEvent = { event: "message:new"; payload: Message } | { event: "history:cleared"; payload: Record<string, never> };

// The adapter's message and packet types (socket.io-adapter MessageType.BROADCAST,
// socket.io-parser PacketType.EVENT). test/ops/cli-tail.test.ts checks them
// against real replicas, so an adapter upgrade that changes them fails there.
const BROADCAST = 3;
const EVENT = 2;

/**
 * Decodes one adapter message into the event it broadcasts, or null for
 * anything else. The adapter writes JSON unless a packet carries binary
 * data (then MessagePack), which scrollback's events never do.
 */
export function decodeRoomBroadcast(raw: Buffer): RoomEvent | null {
  if (raw[0] !== 0x7b) return null;
  let message: unknown;
  try {
    message = JSON.parse(raw.toString("utf8"));
  } catch {
    return null;
  }
  const { type, data } = (message ?? {}) as { type?: unknown; data?: { packet?: { type?: unknown; data?: unknown } } };
  const packet = data?.packet;
  if (type !== BROADCAST || packet?.type !== EVENT || !Array.isArray(packet.data)) return null;
  const [event, payload] = packet.data as [unknown, unknown];
  if (event !== "message:new" && event !== "history:cleared") return null;
  return { event, payload } as RoomEvent;
}

/**
 * Subscribes `sub` (a client of role "sub") to `userId`'s room channel and
 * calls `onEvent` for each broadcast. Resolves once Redis confirmed the
 * subscription, with a function that stops the calls (closing the client
 * ends the subscription itself, even while Redis is away).
 */
export async function subscribeToRoom(sub: RedisClient, userId: string, onEvent: (event: RoomEvent) => void): Promise<() => void> {
  const channel = userRoomChannel(userId);
  const listener = (from: Buffer, message: Buffer) => {
    if (from.toString() !== channel) return;
    const event = decodeRoomBroadcast(message);
    if (event) onEvent(event);
  };
  sub.on("smessageBuffer", listener);
  await sub.ssubscribe(channel);
  return () => sub.off("smessageBuffer", listener);
}
