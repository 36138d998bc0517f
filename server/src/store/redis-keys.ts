/**
 * Every Redis key scrollback uses, built in one place (PROTOCOL.md §2).
 * One key per user, so a user's data always sits in one Cluster slot.
 */

/** `<prefix>:<userId>:messages`, e.g. `temp_memory:team_lead_001:messages`. */
export function messagesKey(prefix: string, userId: string): string {
  return `${prefix}:${userId}:messages`;
}

/** The SCAN pattern matching every user's history under `prefix`. */
export function messagesKeyPattern(prefix: string): string {
  // A prefix may contain glob characters; SCAN MATCH must take them literally.
  return `${prefix.replace(/[*?[\]\\]/g, "\\$&")}:*:messages`;
}

/** The userId inside a key built by {@link messagesKey}, or null for other keys. */
export function userIdFromMessagesKey(prefix: string, key: string): string | null {
  const head = `${prefix}:`;
  const tail = ":messages";
  if (!key.startsWith(head) || !key.endsWith(tail) || key.length <= head.length + tail.length) return null;
  return key.slice(head.length, key.length - tail.length);
}
