import { encodeElement } from "../../server/src/store/message-codec.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { benchUserId, historyWindow } from "../fixtures.js";
import { type BenchContext, HISTORY_MAX, HISTORY_TTL_SECONDS, KEY_PREFIX } from "../fleet.js";
import type { ThroughputCase } from "./throughput.js";

/** Writes a full window for each user, in the stored form both Redis variants read. */
async function prefillWindows(context: BenchContext): Promise<void> {
  const pipeline = context.admin.pipeline();
  for (let i = 0; i < context.options.users; i++) {
    const userId = benchUserId(i);
    const key = messagesKey(KEY_PREFIX, userId);
    pipeline.del(key);
    pipeline.rpush(
      key,
      ...historyWindow(userId, HISTORY_MAX, context.options.contentBytes).map((message) =>
        encodeElement({ ...message, timestamp: message.timestamp! }),
      ),
    );
    pipeline.expire(key, HISTORY_TTL_SECONDS);
  }
  await pipeline.exec();
}

/** `history:load` of a full window in a closed loop against one server. */
export const loadCase: ThroughputCase = { name: "load", event: "history:load", replicas: 1, prepare: prefillWindows };
