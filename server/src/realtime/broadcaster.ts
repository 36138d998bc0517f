/** Fan-out through Socket.IO rooms; with the Redis adapter it reaches every replica. */
import type { Message } from "@scrollback/client/protocol";
import type { Broadcaster } from "../history-service.js";
import { prepareRoomBroadcast } from "./fanout-adapter.js";
import { userRoom } from "./rooms.js";
import type { ScrollbackServer } from "./types.js";

export function createRoomBroadcaster(io: ScrollbackServer): Broadcaster {
  return {
    messageAdded(message: Message, exceptSocketId?: string, otherReplicasReached = false) {
      const name = userRoom(message.userId);
      if (otherReplicasReached) {
        // The other replicas have it; deliver here only, and only when someone
        // besides the sender is listening (an emit encodes even for nobody).
        const members = io.of("/").adapter.rooms.get(name);
        const listeners = (members?.size ?? 0) - (exceptSocketId && members?.has(exceptSocketId) ? 1 : 0);
        if (listeners === 0) return;
        without(io.to(name).local, exceptSocketId).emit("message:new", message);
        return;
      }
      without(io.to(name), exceptSocketId).emit("message:new", message);
    },
    historyCleared(userId, exceptSocketId) {
      without(io.to(userRoom(userId)), exceptSocketId).emit("history:cleared", {});
    },
  };
}

/**
 * What the Redis adapter would publish to the other replicas for
 * `messageAdded(message, exceptSocketId)`, so that the store can publish it
 * within its write (RedisStore's `announce`). Undefined when `io` has no
 * Redis adapter: the broadcaster then publishes as usual.
 */
export function announceMessageAdded(io: ScrollbackServer, message: Message, exceptSocketId: string | undefined): { channel: string; payload: string } | undefined {
  return prepareRoomBroadcast(io.of("/").adapter, userRoom(message.userId), exceptSocketId, "message:new", message);
}

/** The room's connections, less the one that caused the event (if any). */
function without<T extends { except(room: string): T }>(room: T, exceptSocketId: string | undefined): T {
  return exceptSocketId ? room.except(exceptSocketId) : room;
}
