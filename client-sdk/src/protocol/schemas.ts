/**
 * zod schemas of every client payload (PROTOCOL.md §3–§4), shared by the
 * Socket.IO handlers and the HTTP API. The SDK's browser build does not import
 * this file, so zod stays out of widgets.
 */
import { z } from "zod";
import { MESSAGE_ID_PATTERN, MESSAGE_ID_RULE, USER_ID_PATTERN, USER_ID_RULE } from "./ids.js";

/** A user id: 1–128 of `A–Z a–z 0–9 _ . @ : -`. */
export const userIdSchema = z.string().regex(USER_ID_PATTERN, `must be ${USER_ID_RULE}`);

/** A message id: 1–64 of `A–Z a–z 0–9 _ -`. */
export const messageIdSchema = z.string().regex(MESSAGE_ID_PATTERN, `must be ${MESSAGE_ID_RULE}`);

export const roleSchema = z.enum(["user", "assistant", "system"]);

/** How many messages a load or search may ask for. */
export const limitSchema = z.number().int().min(1).max(1000);

export const META_MAX_KEYS = 32;
/** Longest `meta` key, in characters (code points); beyond it the server answers TOO_LARGE (it measures meta, not the schema). */
export const META_MAX_KEY_LENGTH = 64;
/** The largest `MAX_META_BYTES` a server accepts; readers hold meta written by other programs to it. */
export const META_BYTES_CEILING = 65_536;

/**
 * A `meta` key's length as PROTOCOL.md §7 counts it: in characters (Unicode
 * code points), so an emoji is one, not the two UTF-16 units `key.length`
 * counts.
 */
export function metaKeyLength(key: string): number {
  let count = 0;
  for (const _ of key) count++;
  return count;
}

// With the `u` flag a surrogate pair is one code point outside this range, so
// only a lone surrogate matches (String#isWellFormed needs Node 20 / 2023
// browsers; this works everywhere).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const WELL_FORMED_RULE = "must be well-formed UTF-16 (no lone surrogate, e.g. a cut-off emoji)";

/** True when `text` has no lone UTF-16 surrogate (so every encoder, JSON or UTF-8, reads it the same way). */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * A client string: well-formed UTF-16. A lone surrogate becomes U+FFFD in
 * UTF-8 and a `\uD83D` escape in JSON, which Redis's Lua JSON cannot read, so
 * one string would be stored and compared in different forms.
 */
export const textSchema = z.string().refine(isWellFormedText, WELL_FORMED_RULE);

// Keys that would reach Object.prototype when a consumer copies meta with
// plain assignment; refusing them keeps every downstream program safe.
export const FORBIDDEN_META_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

const metaValueSchema = z.union([textSchema, z.number().finite(), z.boolean(), z.null()]);

// Counted and checked on the raw object, before zod copies it: a copy made by
// assignment would silently drop a "__proto__" key instead of refusing it.
export const metaSchema = z
  .custom<Record<string, unknown>>(
    (value) => typeof value === "object" && value !== null && !Array.isArray(value),
    "must be an object of string, number, boolean or null values",
  )
  .refine((meta) => Object.keys(meta).length <= META_MAX_KEYS, `at most ${META_MAX_KEYS} keys`)
  .refine((meta) => !Object.keys(meta).some((key) => FORBIDDEN_META_KEYS.has(key)), "reserved key")
  .refine((meta) => Object.keys(meta).every(isWellFormedText), `keys ${WELL_FORMED_RULE}`)
  .pipe(z.record(z.string(), metaValueSchema));

export const addMessageSchema = z.object({
  id: messageIdSchema.optional(),
  role: roleSchema.default("user"),
  content: textSchema.min(1),
  meta: metaSchema.optional(),
});

export const loadHistorySchema = z
  .object({
    limit: limitSchema.optional(),
    afterId: messageIdSchema.optional(),
  })
  .default({});

export const searchHistorySchema = z.object({
  query: textSchema.min(1).max(256),
  role: roleSchema.optional(),
  limit: limitSchema.optional(),
});

export const clearHistorySchema = z.object({}).default({});

/** `draft:append` (the HTTP route takes `id` from its path); `chunk`'s byte bound (MAX_MESSAGE_BYTES) is the server's. */
export const draftAppendSchema = z.object({
  id: messageIdSchema,
  role: roleSchema.default("assistant"),
  chunk: textSchema.min(1),
});

export const draftDiscardSchema = z.object({ id: messageIdSchema });

/** The parsed form of each client payload. */
export type AddMessageInput = z.output<typeof addMessageSchema>;
export type LoadHistoryInput = z.output<typeof loadHistorySchema>;
export type SearchHistoryInput = z.output<typeof searchHistorySchema>;
export type DraftAppendInput = z.output<typeof draftAppendSchema>;
