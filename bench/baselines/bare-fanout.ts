/**
 * Bare fan-out: the yardstick for the fan-out case. A bare Socket.IO server
 * on the sharded Redis adapter, with the settings scrollback uses
 * (FANOUT_ADAPTER_OPTIONS: sharded Pub/Sub, a channel per user room), that
 * acks each add and broadcasts it to the user's room, storing nothing. Two
 * of them are the stack's own limit for "ack and deliver to another
 * replica"; what scrollback reaches below them is what storing costs.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { FANOUT_ADAPTER_OPTIONS } from "../../server/src/realtime/fanout-adapter.js";
import { userRoom } from "../../server/src/realtime/rooms.js";
import { acceptDevUserId, type BaselineServer, type BaselineSettings } from "./settings.js";

export async function startBareFanoutServer(settings: BaselineSettings): Promise<BaselineServer> {
  // Named like scrollback's connections, so the bench's MONITOR count tells them apart.
  const pub = new Redis(settings.redisUrl, { connectionName: "bare:pub" });
  // As scrollback's sub connection: no ready check, which would race the adapter's first SSUBSCRIBE.
  const sub = new Redis(settings.redisUrl, { enableReadyCheck: false, connectionName: "bare:sub" });
  await Promise.all([pub, sub].map((client) => new Promise((resolve) => client.once("connect", resolve))));
  const httpServer = createServer();
  const io = new Server(httpServer, {
    maxHttpBufferSize: settings.maxHttpBufferSize,
    adapter: createShardedAdapter(pub, sub, FANOUT_ADAPTER_OPTIONS),
  });
  io.use(acceptDevUserId);
  let counter = 0;
  io.on("connection", (socket) => {
    const userId: string = socket.data.userId;
    // The room scrollback uses, so the adapter gives it a channel of its own as it does there.
    const room = userRoom(settings.keyPrefix, userId);
    socket.join(room);
    socket.on("message:add", (payload: { id?: string; role?: string; content: string }, ack: (answer: unknown) => void) => {
      const message = {
        id: payload.id ?? `bare-${counter++}`,
        userId,
        role: payload.role ?? "user",
        content: payload.content,
        timestamp: new Date().toISOString(),
      };
      io.to(room).except(socket.id).emit("message:new", message);
      ack({ ok: true, message, duplicate: false });
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return {
    port: (httpServer.address() as AddressInfo).port,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      for (const client of [pub, sub]) client.disconnect();
    },
  };
}
