/** Fan-out through Socket.IO rooms; with the Redis adapter it reaches every replica. */
import type { Message } from "@scrollback/client/protocol";
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

/** The room's connections, less the one that caused the event (if any). */
function without<T extends { except(room: string): T }>(room: T, exceptSocketId: string | undefined): T {
  return exceptSocketId ? room.except(exceptSocketId) : room;
}
