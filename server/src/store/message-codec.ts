/**
 * The stored form of a message (PROTOCOL.md §2) and the tolerant reader for
 * elements other programs wrote (the original Python app pushes
 * `json.dumps(message)` with its own fields).
 */
import { createHash } from "node:crypto";
import { MESSAGE_ID_PATTERN, type Message, type MessageMeta, type Role } from "@scrollback/client/protocol";
import {
  FORBIDDEN_META_KEYS,
  META_BYTES_CEILING,
  META_MAX_KEY_LENGTH,
  META_MAX_KEYS,
  metaKeyLength,
} from "@scrollback/client/protocol/schemas";
import type { NewMessage } from "./store.js";

const ROLES: ReadonlySet<string> = new Set<Role>(["user", "assistant", "system"]);

/** Prefix of ids derived from an element's bytes; appendMessage.lua derives them the same way. */
export const DERIVED_ID_PREFIX = "sha1-";

/** The JSON kept in the list: `{"id","role","content","timestamp","meta"?}`. */
export function encodeElement(message: NewMessage): string {
  const stored: Record<string, unknown> = {
    id: message.id,
    role: message.role,
    content: message.content,
    timestamp: message.timestamp,
  };
  if (message.meta !== undefined) stored.meta = message.meta;
  return JSON.stringify(stored);
}

/**
 * The id of an element with no usable id of its own: stable across reads and
 * replicas, and a valid message id ("sha1-" + 40 hex digits, 45 characters),
 * so clients can pass it back as `afterId`.
 */
export function deriveElementId(raw: string | Buffer): string {
  return DERIVED_ID_PREFIX + createHash("sha1").update(raw).digest("hex");
}

/**
 * Reads one list element; null for anything that is not a JSON object with a
 * string `content` (the caller skips and counts those).
 */
export function decodeElement(raw: string | Buffer, userId: string): Message | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const element = parsed as Record<string, unknown>;
  if (typeof element.content !== "string") return null;

  const message: Message = {
    id: typeof element.id === "string" && MESSAGE_ID_PATTERN.test(element.id) ? element.id : deriveElementId(raw),
    userId,
    role: typeof element.role === "string" && ROLES.has(element.role) ? (element.role as Role) : "user",
    content: element.content,
    timestamp: typeof element.timestamp === "string" ? element.timestamp : null,
  };
  const meta = readMeta(element.meta);
  if (meta !== undefined) message.meta = meta;
  return message;
}

/**
 * The most `meta` JSON a read serves, in UTF-8 bytes: the largest
 * MAX_META_BYTES the server accepts (config.ts), so every meta it wrote itself
 * reads back whole, whatever its setting. The codec has no config to know the
 * actual setting.
 */
export const READ_META_MAX_BYTES = META_BYTES_CEILING;

/**
 * Holds foreign meta to what input accepts (PROTOCOL.md §2, §7): only flat
 * string/finite number/boolean/null values under keys input allows
 * (`__proto__`, `constructor`, `prototype` and keys over META_MAX_KEY_LENGTH
 * characters are dropped), the first META_MAX_KEYS of those, and, in order,
 * only the entries that keep the meta's JSON within READ_META_MAX_BYTES (an
 * entry that would take it over is dropped, later ones may still fit);
 * anything else is dropped.
 */
function readMeta(value: unknown): MessageMeta | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const entries: [string, MessageMeta[string]][] = [];
  let jsonBytes = 2; // the braces
  for (const [key, entry] of Object.entries(value)) {
    if (entries.length === META_MAX_KEYS) break;
    if (FORBIDDEN_META_KEYS.has(key) || metaKeyLength(key) > META_MAX_KEY_LENGTH) continue;
    if (
      entry === null ||
      typeof entry === "string" ||
      typeof entry === "boolean" ||
      (typeof entry === "number" && Number.isFinite(entry))
    ) {
      // `"key":value`, and a comma before every entry but the first: what JSON.stringify of the result writes.
      const entryBytes = Buffer.byteLength(`${JSON.stringify(key)}:${JSON.stringify(entry)}`, "utf8") + (entries.length > 0 ? 1 : 0);
      if (jsonBytes + entryBytes > READ_META_MAX_BYTES) continue;
      jsonBytes += entryBytes;
      entries.push([key, entry]);
    }
  }
  // No reserved key is left, so a plain object built from the entries is safe.
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** Decodes a whole list, reporting how many elements were skipped. */
export function decodeElements(raws: readonly (string | Buffer)[], userId: string): { messages: Message[]; skipped: number } {
  const messages: Message[] = [];
  for (const raw of raws) {
    const message = decodeElement(raw, userId);
    if (message) messages.push(message);
  }
  return { messages, skipped: raws.length - messages.length };
}
