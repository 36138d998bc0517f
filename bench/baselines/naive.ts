/**
 * The naive design scrollback replaces, written plainly: RPUSH, LTRIM and
 * EXPIRE as three awaited commands per add, LRANGE to load, the classic
 * Redis adapter (one channel for every broadcast) for fan-out. It validates
 * payloads with the same schema, so what differs is the storage and fan-out.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createMessageId } from "@scrollback/client/protocol";
import { addMessageSchema } from "@scrollback/client/protocol/schemas";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { parsePayload } from "../../server/src/parse-payload.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { acceptDevUserId, type BaselineServer, type BaselineSettings } from "./settings.js";

export async function startNaiveServer(settings: BaselineSettings): Promise<BaselineServer> {
  // Named like scrollback's connections, so the bench can count each one's
  // commands. (Naming the subscriber races ioredis's ready check with the
  // adapter's first SUBSCRIBE, and it sends nothing per add anyway.)
  const data = new Redis(settings.redisUrl, { connectionName: "naive:data" });
  const pub = new Redis(settings.redisUrl, { connectionName: "naive:pub" });
  const sub = new Redis(settings.redisUrl);
  // The adapter subscribes at once; let ioredis finish its ready check first.
  await Promise.all([data, pub, sub].map((client) => new Promise((resolve) => client.once("ready", resolve))));
  const httpServer = createServer();
  const io = new Server(httpServer, { maxHttpBufferSize: settings.maxHttpBufferSize, adapter: createAdapter(pub, sub) });
  io.use(acceptDevUserId);
  io.on("connection", (socket) => {
    const userId: string = socket.data.userId;
    const room = `user:${userId}`;
    const key = messagesKey(settings.keyPrefix, userId);
    socket.join(room);
    socket.on("message:add", async (payload: unknown, ack: (answer: unknown) => void) => {
      try {
        const input = parsePayload(addMessageSchema, payload);
        const now = Date.now();
        const stored = {
          id: input.id ?? createMessageId(now),
          role: input.role,
          content: input.content,
          timestamp: new Date(now).toISOString(),
        };
        await data.rpush(key, JSON.stringify(stored));
        await data.ltrim(key, -settings.historyMax, -1);
        await data.expire(key, settings.historyTtlSeconds);
        const message = { ...stored, userId };
        io.to(room).except(socket.id).emit("message:new", message);
        ack({ ok: true, message, duplicate: false });
      } catch {
        ack({ ok: false, error: { code: "INTERNAL", message: "internal error" } });
      }
    });
    socket.on("history:load", async (_payload: unknown, ack: (answer: unknown) => void) => {
      try {
        const raws = await data.lrange(key, 0, -1);
        ack({ ok: true, messages: raws.map((raw) => ({ ...JSON.parse(raw), userId })), gap: false });
      } catch {
        ack({ ok: false, error: { code: "INTERNAL", message: "internal error" } });
      }
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return {
    port: (httpServer.address() as AddressInfo).port,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      for (const client of [data, pub, sub]) client.disconnect();
    },
  };
}
