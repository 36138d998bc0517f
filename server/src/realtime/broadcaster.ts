/** Fan-out through Socket.IO rooms; with the Redis adapter it reaches every replica. */
import type { DraftUpdate, Message } from "@scrollback/client/protocol";
import type { Broadcaster } from "../history-service.js";
import { prepareRoomBroadcast } from "./fanout-adapter.js";
import { userRoom } from "./rooms.js";
import type { ScrollbackServer } from "./types.js";

/**
 * Emits to the user's room through `io`, unless the store announced the
 * change itself: then every replica, this one included, gets it from Redis,
 * in the order Redis applied it, and a local emit could overtake an earlier
 * change from another replica.
 */
export function createRoomBroadcaster(io: ScrollbackServer, keyPrefix: string): Broadcaster {
  return {
    messageAdded(message: Message, exceptSocketId?: string, announced = false) {
      if (!announced) without(io.to(userRoom(keyPrefix, message.userId)), exceptSocketId).emit("message:new", message);
    },
    historyCleared(userId, exceptSocketId, announced = false) {
      if (!announced) without(io.to(userRoom(keyPrefix, userId)), exceptSocketId).emit("history:cleared", {});
    },
    draftUpdated(userId, update, exceptSocketId, announced = false) {
      if (!announced) without(io.to(userRoom(keyPrefix, userId)), exceptSocketId).emit("draft:update", update);
    },
    draftDiscarded(userId, id, exceptSocketId, announced = false) {
      if (!announced) without(io.to(userRoom(keyPrefix, userId)), exceptSocketId).emit("draft:discarded", { id });
    },
  };
}

/**
 * What the Redis adapter would publish to every replica, this one included,
 * for `messageAdded(message, exceptSocketId)`, so that the store can publish
 * it within its write (RedisStore's `announce`). Undefined when `io` has no
 * Redis adapter: the broadcaster then emits as usual.
 */
export function announceMessageAdded(
  io: ScrollbackServer,
  keyPrefix: string,
  message: Message,
  exceptSocketId: string | undefined,
): { channel: string; payload: string } | undefined {
  return prepareRoomBroadcast(io.of("/").adapter, userRoom(keyPrefix, message.userId), exceptSocketId, "message:new", message);
}

/** The same for `historyCleared(userId, exceptSocketId)` (RedisStore's `announceClear`). */
export function announceHistoryCleared(
  io: ScrollbackServer,
  keyPrefix: string,
  userId: string,
  exceptSocketId: string | undefined,
): { channel: string; payload: string } | undefined {
  return prepareRoomBroadcast(io.of("/").adapter, userRoom(keyPrefix, userId), exceptSocketId, "history:cleared", {});
}

/**
 * A `seq` no draft reaches (appendDraft.lua counts from 1): stands in the
 * broadcast until the script writes the real one in its place.
 */
const SEQ_PLACEHOLDER = Number.MAX_SAFE_INTEGER;

/**
 * The same for `draftUpdated(userId, update, exceptSocketId)` (RedisStore's
 * `announceDraftUpdate`), cut around the update's `seq`, which only the
 * script knows: it publishes `before + seq + after`. The cut is at
 * `"seq":<placeholder>`, which the encoded broadcast (JSON, see
 * adapter-wire-format.ts) holds exactly once: a `"` inside a string value is
 * escaped, so no chunk can contain it.
 */
export function announceDraftUpdated(
  io: ScrollbackServer,
  keyPrefix: string,
  userId: string,
  update: Omit<DraftUpdate, "seq">,
  exceptSocketId: string | undefined,
): { channel: string; before: string; after: string } | undefined {
  const payload: DraftUpdate = { id: update.id, role: update.role, seq: SEQ_PLACEHOLDER, chunk: update.chunk, idleMs: update.idleMs };
  const broadcast = prepareRoomBroadcast(io.of("/").adapter, userRoom(keyPrefix, userId), exceptSocketId, "draft:update", payload);
  if (!broadcast) return undefined;
  const marker = `"seq":${SEQ_PLACEHOLDER}`;
  const at = broadcast.payload.indexOf(marker);
  if (at === -1 || broadcast.payload.indexOf(marker, at + 1) !== -1) return undefined;
  const cut = at + marker.length - String(SEQ_PLACEHOLDER).length;
  return { channel: broadcast.channel, before: broadcast.payload.slice(0, cut), after: broadcast.payload.slice(at + marker.length) };
}

/** The same for `draftDiscarded(userId, id, exceptSocketId)` (RedisStore's `announceDraftDiscarded`). */
export function announceDraftDiscarded(
  io: ScrollbackServer,
  keyPrefix: string,
  userId: string,
  id: string,
  exceptSocketId: string | undefined,
): { channel: string; payload: string } | undefined {
  return prepareRoomBroadcast(io.of("/").adapter, userRoom(keyPrefix, userId), exceptSocketId, "draft:discarded", { id });
}

/** The room's connections, less the one that caused the event (if any). */
function without<T extends { except(room: string): T }>(room: T, exceptSocketId: string | undefined): T {
  return exceptSocketId ? room.except(exceptSocketId) : room;
}
