/**
 * One user's history as stored, read in one MULTI: the elements (decoded
 * with the server's message-codec.ts, unreadable ones kept raw), the TTL and
 * the memory Redis spends on the key.
 */
import type { Message } from "@scrollback/client/protocol";
import type { RedisClient } from "../redis-connections.js";
import { decodeElement } from "../store/message-codec.js";
import { messagesKey } from "../store/redis-keys.js";
import { redisFailure } from "./redis-client.js";

export interface HistorySnapshot {
  userId: string;
  key: string;
  /** False when the key does not exist (no history, or it expired). */
  exists: boolean;
  /** Readable messages, oldest first, exactly as clients are served them. */
  messages: Message[];
  /** Elements the server skips (not a JSON object with a string `content`), as stored. */
  unreadable: string[];
  /** Seconds until the key expires; null when it has no TTL or does not exist. */
  ttlSeconds: number | null;
  /** `MEMORY USAGE` of the key in bytes; null when Redis does not allow the command. */
  memoryBytes: number | null;
}

export async function readHistory(client: RedisClient, prefix: string, userId: string): Promise<HistorySnapshot> {
  const key = messagesKey(prefix, userId);
  let raws: Buffer[];
  let pttl: number;
  try {
    const replies = await client.multi().lrangeBuffer(key, 0, -1).pttl(key).exec();
    const failed = replies?.find(([error]) => error);
    if (!replies || failed) throw failed?.[0] ?? new Error("transaction aborted");
    const [lrangeReply, pttlReply] = replies;
    if (!lrangeReply || !pttlReply) throw new Error("transaction returned fewer replies than commands");
    raws = lrangeReply[1] as Buffer[];
    pttl = pttlReply[1] as number;
  } catch (error) {
    throw redisFailure(error, `reading ${key}`);
  }
  const messages: Message[] = [];
  const unreadable: string[] = [];
  for (const raw of raws) {
    const message = decodeElement(raw, userId);
    if (message) messages.push(message);
    else unreadable.push(raw.toString("utf8"));
  }
  return {
    userId,
    key,
    exists: pttl !== -2,
    messages,
    unreadable,
    ttlSeconds: pttl >= 0 ? Math.ceil(pttl / 1000) : null,
    memoryBytes: pttl === -2 ? null : await memoryUsage(client, key),
  };
}

async function memoryUsage(client: RedisClient, key: string): Promise<number | null> {
  try {
    const bytes = await client.memory("USAGE", key);
    return typeof bytes === "number" ? bytes : null;
  } catch {
    // Managed Redis services may rename or forbid MEMORY; the rest still helps.
    return null;
  }
}
