/**
 * Every Redis key scrollback uses, built in one place (PROTOCOL.md §2).
 * One key per user, so a user's data always sits in one Cluster slot.
 */

/** `<prefix>:<userId>:messages`, e.g. `temp_memory:team_lead_001:messages`. */
export function messagesKey(prefix: string, userId: string): string {
  return `${prefix}:${userId}:messages`;
}

/**
 * `{<prefix>:<userId>:messages}:ids`: the id index beside a user's list
 * (appendMessage.lua), so an add's duplicate check reads a constant amount.
 * The hash tag is the list's whole key, so both sit in one Cluster slot (a
 * key without braces hashes whole) and a script may touch both; and the
 * index starts with "{", so `KEYS temp_memory:*` and the CLI's `users` show
 * the lists alone, as the original app's keys were.
 */
export function messageIdsKey(prefix: string, userId: string): string {
  return `{${messagesKey(prefix, userId)}}:ids`;
}

/**
 * `{<prefix>:<userId>:messages}:drafts`: the user's streamed replies
 * (appendDraft.lua), a hash of draft id → `{role, seq, updatedAt, length}`.
 * Same hash tag, so same Cluster slot, as the list and its index.
 */
export function draftsKey(prefix: string, userId: string): string {
  return `{${messagesKey(prefix, userId)}}:drafts`;
}

/**
 * `{<prefix>:<userId>:messages}:drafts:<id>`: the text so far of the draft
 * `id`, a string each chunk APPENDs to (appendDraft.lua). The scripts derive
 * it from the drafts key the same way.
 */
export function draftTextKey(prefix: string, userId: string, id: string): string {
  return `${draftsKey(prefix, userId)}:${id}`;
}

/**
 * `{<prefix>:<userId>:messages}:inbox-quota`: how many of the user's messages
 * entered the inbox this minute (appendMessage.lua, INBOX_USER_PER_MINUTE).
 * Same hash tag, so the add's script may read and count it.
 */
export function inboxQuotaKey(prefix: string, userId: string): string {
  return `{${messagesKey(prefix, userId)}}:inbox-quota`;
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
