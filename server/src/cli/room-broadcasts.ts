/**
 * Reading the fan-out as it passes through Redis: every `message:new` and
 * `history:cleared` that any replica (or the HTTP API behind it) sends to a
 * user's room is published on that room's sharded channel
 * (realtime/fanout-adapter.ts). Subscribing there sees them all without
 * connecting as the user, needing a token, or counting as a connection.
 */
import type { Message } from "@scrollback/client/protocol";
import { decodeRoomBroadcast } from "../realtime/adapter-wire-format.js";
import { userRoomChannel } from "../realtime/fanout-adapter.js";
import type { RedisClient } from "../redis-connections.js";

/** One event sent to all of a user's connections (auth:expired goes to one socket, not the room). */
export type RoomEvent = { event: "message:new"; payload: Message } | { event: "history:cleared"; payload: Record<string, never> };

/**
 * Decodes one adapter message into the event it broadcasts to a user's room,
 * or null for anything else (adapter-wire-format.ts).
 */
function decodeRoomEvent(raw: Buffer): RoomEvent | null {
  const broadcast = decodeRoomBroadcast(raw);
  if (broadcast?.event !== "message:new" && broadcast?.event !== "history:cleared") return null;
  return { event: broadcast.event, payload: broadcast.payload } as RoomEvent;
}

/**
 * Subscribes `sub` (a client of role "sub") to `userId`'s room channel and
 * calls `onEvent` for each broadcast. Resolves once Redis confirmed the
 * subscription, with a function that stops the calls (closing the client
 * ends the subscription itself, even while Redis is away).
 */
export async function subscribeToRoom(
  sub: RedisClient,
  keyPrefix: string,
  userId: string,
  onEvent: (event: RoomEvent) => void,
): Promise<() => void> {
  const channel = userRoomChannel(keyPrefix, userId);
  const listener = (from: Buffer, message: Buffer) => {
    if (from.toString() !== channel) return;
    const event = decodeRoomEvent(message);
    if (event) onEvent(event);
  };
  sub.on("smessageBuffer", listener);
  await sub.ssubscribe(channel);
  return () => sub.off("smessageBuffer", listener);
}
