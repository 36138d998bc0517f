/** Fan-out through Socket.IO rooms; with the Redis adapter it reaches every replica. */
import type { Broadcaster } from "../history-service.js";
import { userRoom } from "./rooms.js";
import type { ScrollbackServer } from "./types.js";

export function createRoomBroadcaster(io: ScrollbackServer): Broadcaster {
  return {
    messageAdded(message, exceptSocketId) {
      const room = io.to(userRoom(message.userId));
      (exceptSocketId ? room.except(exceptSocketId) : room).emit("message:new", message);
    },
    historyCleared(userId, exceptSocketId) {
      const room = io.to(userRoom(userId));
      (exceptSocketId ? room.except(exceptSocketId) : room).emit("history:cleared", {});
    },
  };
}
