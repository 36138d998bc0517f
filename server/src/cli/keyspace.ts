/**
 * Walking scrollback's keys: SCAN on every master (never KEYS, which blocks
 * Redis for as long as it takes), with the key names of store/redis-keys.ts.
 */
import { Cluster, type Redis } from "ioredis";
import type { RedisClient } from "../redis-connections.js";
import { messagesKey, messagesKeyPattern, userIdFromMessagesKey } from "../store/redis-keys.js";

/** Keys asked for per SCAN step: large enough to be quick, small enough not to stall Redis. */
const SCAN_COUNT = 1_000;
/** LLEN calls in flight at once when counting messages. */
const BATCH = 500;

/** The nodes that hold data: every master of a Cluster, else the one server. */
export function dataNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes("master") : [client];
}

/** Every user id with a history under `prefix`, sorted. */
export async function scanUserIds(client: RedisClient, prefix: string): Promise<string[]> {
  const match = messagesKeyPattern(prefix);
  const ids = new Set<string>();
  for (const node of dataNodes(client)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", match, "COUNT", SCAN_COUNT);
      cursor = next;
      for (const key of keys) {
        const id = userIdFromMessagesKey(prefix, key);
        if (id !== null) ids.add(id);
      }
    } while (cursor !== "0");
  }
  return [...ids].sort();
}

/** The total length of the given users' lists. */
export async function countMessages(client: RedisClient, prefix: string, userIds: readonly string[]): Promise<number> {
  let total = 0;
  for (let start = 0; start < userIds.length; start += BATCH) {
    // One command per key: a Cluster pipeline would need every key in one slot.
    const lengths = await Promise.all(userIds.slice(start, start + BATCH).map((id) => client.llen(messagesKey(prefix, id))));
    total += lengths.reduce((sum, length) => sum + length, 0);
  }
  return total;
}
