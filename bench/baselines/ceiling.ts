/**
 * The ceiling: a bare Socket.IO server that answers the same events with
 * acks of the same shape, storing nothing and publishing nothing. What it
 * reaches is the transport's limit on this machine.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { historyWindow } from "../fixtures.js";
import { acceptDevUserId, type BaselineServer, type BaselineSettings } from "./settings.js";

export async function startCeilingServer(settings: BaselineSettings): Promise<BaselineServer> {
  const httpServer = createServer();
  const io = new Server(httpServer, { maxHttpBufferSize: settings.maxHttpBufferSize });
  io.use(acceptDevUserId);
  let counter = 0;
  io.on("connection", (socket) => {
    const userId: string = socket.data.userId;
    let window: ReturnType<typeof historyWindow> | undefined;
    socket.on("message:add", (payload: { id?: string; role?: string; content: string }, ack: (answer: unknown) => void) => {
      const message = {
        id: payload.id ?? `ceiling-${counter++}`,
        userId,
        role: payload.role ?? "user",
        content: payload.content,
        timestamp: new Date().toISOString(),
      };
      ack({ ok: true, message, duplicate: false });
    });
    socket.on("history:load", (_payload: unknown, ack: (answer: unknown) => void) => {
      window ??= historyWindow(userId, settings.historyMax, settings.contentBytes);
      ack({ ok: true, messages: window, gap: false });
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return {
    port: (httpServer.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
}
