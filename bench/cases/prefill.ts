import { encodeElement } from "../../server/src/store/message-codec.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { benchUserId, historyWindow } from "../fixtures.js";
import { type BenchContext, HISTORY_TTL_SECONDS, KEY_PREFIX } from "../fleet.js";

/**
 * Writes a full window of `count` messages for each of `users` users, in the
 * stored form both Redis variants read. Only the lists: scrollback rebuilds
 * a user's id index from the list on that user's first add (as after another
 * program wrote it, appendMessage.lua), once, during the warm-up.
 */
export async function prefillWindows(context: BenchContext, count: number, users = context.options.users): Promise<void> {
  // In pipelines of about 20,000 elements, so a window of 1,000 for many users does not build one huge buffer.
  const perPipeline = Math.max(1, Math.floor(20_000 / count));
  for (let first = 0; first < users; first += perPipeline) {
    const pipeline = context.admin.pipeline();
    for (let i = first; i < Math.min(users, first + perPipeline); i++) {
      const userId = benchUserId(i);
      const key = messagesKey(KEY_PREFIX, userId);
      pipeline.del(key);
      pipeline.rpush(
        key,
        ...historyWindow(userId, count, context.options.contentBytes).map((message) =>
          encodeElement({ ...message, timestamp: message.timestamp! }),
        ),
      );
      pipeline.expire(key, HISTORY_TTL_SECONDS);
    }
    await pipeline.exec();
  }
}
