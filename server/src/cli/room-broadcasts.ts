/**
 * Reading the fan-out as it passes through Redis: every `message:new` and
 * `history:cleared` that any replica (or the HTTP API behind it) sends to a
 * user's room is published on that room's sharded channel
 * (realtime/fanout-adapter.ts). Subscribing there sees them all without
 * connecting as the user, needing a token, or counting as a connection.
 */
import type { Message } from "@scrollback/client/protocol";
import { roleSchema } from "@scrollback/client/protocol/schemas";
import { decodeRoomBroadcast } from "../realtime/adapter-wire-format.js";
import { userRoomChannel } from "../realtime/fanout-adapter.js";
import type { RedisClient } from "../redis-connections.js";

/** One event sent to all of a user's connections (auth:expired goes to one socket, not the room). */
export type RoomEvent = { event: "message:new"; payload: Message } | { event: "history:cleared"; payload: Record<string, never> };

/**
 * True for a payload shaped like a Message (PROTOCOL.md §2). Anyone who can
 * publish on the channel can put anything there, so what tail prints is
 * checked, not trusted.
 */
function isMessage(value: unknown): value is Message {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const message = value as Record<string, unknown>;
  const meta = message.meta;
  return (
    typeof message.id === "string" &&
    typeof message.userId === "string" &&
    roleSchema.safeParse(message.role).success &&
    typeof message.content === "string" &&
    (typeof message.timestamp === "string" || message.timestamp === null) &&
    (meta === undefined || (typeof meta === "object" && meta !== null && !Array.isArray(meta)))
  );
}

/**
 * Decodes one adapter message into the event it broadcasts to a user's room,
 * "malformed" for a message:new whose payload is not a Message, or null for
 * anything else (adapter-wire-format.ts).
 */
function decodeRoomEvent(raw: Buffer): RoomEvent | "malformed" | null {
  const broadcast = decodeRoomBroadcast(raw);
  if (broadcast?.event === "history:cleared") return { event: "history:cleared", payload: {} };
  if (broadcast?.event !== "message:new") return null;
  return isMessage(broadcast.payload) ? { event: "message:new", payload: broadcast.payload } : "malformed";
}

/**
 * Subscribes `sub` (a client of role "sub") to `userId`'s room channel and
 * calls `onEvent` for each broadcast (`onMalformed` for a message:new that
 * is not a Message, which is skipped). Resolves once Redis confirmed the
 * subscription, with a function that stops the calls (closing the client
 * ends the subscription itself, even while Redis is away).
 */
export async function subscribeToRoom(
  sub: RedisClient,
  keyPrefix: string,
  userId: string,
  onEvent: (event: RoomEvent) => void,
  onMalformed: () => void = () => {},
): Promise<() => void> {
  const channel = userRoomChannel(keyPrefix, userId);
  const listener = (from: Buffer, message: Buffer) => {
    if (from.toString() !== channel) return;
    const event = decodeRoomEvent(message);
    if (event === "malformed") onMalformed();
    else if (event) onEvent(event);
  };
  sub.on("smessageBuffer", listener);
  await sub.ssubscribe(channel);
  return () => sub.off("smessageBuffer", listener);
}
