/** Fan-out through Socket.IO rooms; with the Redis adapter it reaches every replica. */
import type { Message } from "@scrollback/client/protocol";
import type { Broadcaster } from "../history-service.js";
import { prepareRoomBroadcast } from "./fanout-adapter.js";
import { userRoom } from "./rooms.js";
import type { ScrollbackServer } from "./types.js";

export function createRoomBroadcaster(io: ScrollbackServer): Broadcaster {
  return {
    prepareMessageAdded(message, exceptSocketId) {
      return prepareRoomBroadcast(io.of("/").adapter, userRoom(message.userId), exceptSocketId, "message:new", message);
    },
    messageAdded(message: Message, exceptSocketId?: string, publishedAlready = false) {
      const name = userRoom(message.userId);
      if (publishedAlready) {
        // The other replicas have it; deliver here only, and only when someone
        // besides the sender is listening (an emit encodes even for nobody).
        const members = io.of("/").adapter.rooms.get(name);
        const listeners = (members?.size ?? 0) - (exceptSocketId && members?.has(exceptSocketId) ? 1 : 0);
        if (listeners === 0) return;
        const room = io.to(name).local;
        (exceptSocketId ? room.except(exceptSocketId) : room).emit("message:new", message);
        return;
      }
      const room = io.to(name);
      (exceptSocketId ? room.except(exceptSocketId) : room).emit("message:new", message);
    },
    historyCleared(userId, exceptSocketId) {
      const room = io.to(userRoom(userId));
      (exceptSocketId ? room.except(exceptSocketId) : room).emit("history:cleared", {});
    },
  };
}
