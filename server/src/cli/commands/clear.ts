/**
 * `scrollback clear <user>`: deletes a user's history and tells their open
 * connections, on every replica, with `history:cleared` — the server's own
 * clear (history-assembly.ts, clearHistory.lua) published through the same
 * Socket.IO Redis adapter the replicas use, so no replica URL or token is needed.
 */
import { Server } from "socket.io";
import { assembleHistory, createRedisStore } from "../../history-assembly.js";
import { createMetrics } from "../../metrics.js";
import { createFanoutAdapter } from "../../realtime/fanout-adapter.js";
import type { ScrollbackServer } from "../../realtime/types.js";
import type { Command } from "../command.js";
import { redisFailure } from "../redis-client.js";
import { userArgument } from "../user-argument.js";

export const clearCommand: Command = {
  name: "clear",
  usage: "<user>",
  summary: "delete a user's history and tell their open tabs (history:cleared)",
  async run({ connect, config, out, args }) {
    const userId = userArgument(clearCommand, args);
    const [data, pub, sub] = [await connect("data"), await connect("pub"), await connect("sub")];
    // Not attached to any HTTP server: only its adapter is used, to publish.
    const io: ScrollbackServer = new Server({ adapter: createFanoutAdapter(pub, sub) });
    const metrics = createMetrics();
    const store = createRedisStore(config, data, { metrics, io: () => io });
    const service = assembleHistory({
      store,
      metrics,
      maxMessageBytes: config.maxMessageBytes,
      maxMetaBytes: config.maxMetaBytes,
      draftIdleMs: config.drafts.idleMs,
      keyPrefix: config.keyPrefix,
      io: () => io,
    });
    let removed: number;
    try {
      removed = await service.clear(userId, {});
      // Replies come in order: once this PING answers, the adapter's SPUBLISH has reached Redis.
      await pub.ping();
    } catch (error) {
      throw redisFailure(error, `clearing ${userId}`);
    } finally {
      await io.of("/").adapter.close();
    }
    if (out.json) out.value({ userId, removed, notified: true });
    else out.line(`cleared "${userId}": ${removed} element${removed === 1 ? "" : "s"} removed; open connections were sent history:cleared`);
    return 0;
  },
};
