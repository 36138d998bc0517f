/**
 * fast-check generators of hostile input: random JSON, wrong types, huge
 * strings, deep nesting, prototype-pollution keys, binary attachments where
 * strings belong, and, per client event, payloads that are invalid by
 * construction (each breaks exactly one rule of PROTOCOL.md §4, so the
 * expected error code and field are known without asking the server's own
 * schemas).
 */
import fc from "fast-check";

/** Keys that reach Object.prototype when a consumer copies with plain assignment. */
export const POLLUTION_KEYS = ["__proto__", "constructor", "prototype"] as const;

const hostileKey = fc.oneof(fc.constantFrom(...POLLUTION_KEYS, "toString", "valueOf", "_placeholder", "num"), fc.string({ maxLength: 12 }));

/** A Buffer: socket.io-client sends it as a binary attachment. */
export const binary = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));

/** `[[[…]]]` or `{"a":{"a":…}}` nested `depth` deep. */
export function nested(depth: number, kind: "array" | "object" = "array"): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}
export const deep = fc
  .tuple(fc.integer({ min: 20, max: 1_500 }), fc.constantFrom("array" as const, "object" as const))
  .map(([depth, kind]) => nested(depth, kind));

/**
 * Strings far past every field limit, yet small enough that a few of them
 * stay under the 1 MB frame limit (frames over it close the connection,
 * tested on their own).
 */
export const hugeString = fc
  .constantFrom(257, 20_000, 60_000)
  .chain((length) => fc.constantFrom("x", "é", "😀").map((unit) => unit.repeat(length)));

/** Strings with lone surrogates, NULs, control and bidi characters. */
export const weirdString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: "${jndi:x}" is a literal attack string (Log4Shell), not a template
  fc.constantFrom("\uD800", "a\uDC00b", "\u0000", "\u202Eevil", "\r\n", "%00", "../..", "' OR 1=1 --", "${jndi:x}"),
);

/** Objects with pollution keys as own properties (as JSON.parse makes them). */
export const pollutingObject = fc
  .dictionary(hostileKey, fc.oneof(fc.jsonValue({ maxDepth: 2 }), binary), { maxKeys: 6 })
  .map((object) => ({ ...JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}'), ...object }))
  // `{"_placeholder": true}` beside a binary attachment is a malformed Socket.IO
  // packet, not a payload: the server closes the connection (packets.test.ts
  // covers those), so an ack cannot be expected for it here.
  .filter((object) => (object as Record<string, unknown>)._placeholder !== true);

/** Anything a client could put in a payload slot. */
export const anything: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  binary,
  pollutingObject,
  deep,
  hugeString,
  weirdString,
  fc.constant(undefined),
);

/** Any value that is not a string. */
const notString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  pollutingObject,
  binary,
  deep,
);

/** A payload that is not an object at all (and not "nothing"). */
const notObject = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(anything, { maxLength: 3 }),
  binary,
);

/** Strings that break the id rule (1–64 of A–Z a–z 0–9 _ -). */
const badId = fc.oneof(
  notString,
  fc.constant(""),
  fc.string({ minLength: 65, maxLength: 200, unit: fc.constantFrom("a", "b", "_", "-") }),
  fc
    .tuple(
      fc.string({ maxLength: 10, unit: fc.constantFrom("a", "1") }),
      fc.constantFrom(" ", "/", ".", ":", "\u0000", "é", "\uD800", '"', "\\"),
      fc.string({ maxLength: 10 }),
    )
    .map(([a, bad, b]) => a + bad + b),
);

/** Numbers and non-numbers outside `limit`'s 1–1000 integers. */
const badLimit = fc.oneof(
  fc.constantFrom(0, -1, 1001, 1.5, 1e9),
  fc.integer({ max: 0 }),
  fc.integer({ min: 1001 }),
  fc.string({ maxLength: 5 }),
  fc.constant(null),
  fc.boolean(),
  binary,
  fc.constant([5]),
);

const badRole = fc.oneof(
  notString,
  fc.string({ maxLength: 12 }).filter((role) => !["user", "assistant", "system"].includes(role)),
  fc.constantFrom("User", "ADMIN", "assistant ", "__proto__"),
);

const metaValueNotAllowed = fc.oneof(
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
  binary,
);
const badMeta = fc.oneof(
  fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
    binary,
  ),
  fc.constantFrom(...POLLUTION_KEYS).map((key) => JSON.parse(`{"${key}":"x"}`) as object),
  fc.integer({ min: 33, max: 80 }).map((count) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]))),
  fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), metaValueNotAllowed).map(([key, value]) => ({ [key]: value })),
);

/** A string with one lone UTF-16 surrogate in it (a cut-off emoji), which no client string may hold. */
const withLoneSurrogate = fc
  .tuple(fc.string({ maxLength: 8 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 8 }))
  .map(([before, unit, after]) => before + String.fromCharCode(unit) + after);

/** An invalid payload and what the server must say about it. */
export interface Invalid {
  payload: unknown;
  code: "INVALID_PAYLOAD" | "TOO_LARGE";
  /** The field the error message must name first. */
  field: string;
}

const invalid =
  (field: string, code: Invalid["code"] = "INVALID_PAYLOAD") =>
  (payload: unknown): Invalid => ({ payload, code, field });

/**
 * `message:add` payloads that break one rule each; `maxMessageBytes` is the
 * server's MAX_MESSAGE_BYTES, `maxMetaBytes` its MAX_META_BYTES.
 */
export function invalidAdd(maxMessageBytes: number, maxMetaBytes = 2_048): fc.Arbitrary<Invalid> {
  const valid = { id: "ok-id", role: "user", content: "fine", meta: { lang: "en" } };
  return fc.oneof(
    notObject.map(invalid("payload")),
    notString.map((content) => invalid("content")({ ...valid, content })),
    fc.constant(invalid("content")({ ...valid, content: "" })),
    fc.constant(invalid("content")({ id: "ok-id" })),
    fc
      .integer({ min: maxMessageBytes + 1, max: maxMessageBytes * 4 })
      .map((bytes) => invalid("content", "TOO_LARGE")({ ...valid, content: "x".repeat(bytes) })),
    // One more UTF-8 byte than allowed, in 2-byte characters: counted in bytes, not characters.
    fc.constant(invalid("content", "TOO_LARGE")({ ...valid, content: "é".repeat(Math.floor(maxMessageBytes / 2) + 1) })),
    badId.map((id) => invalid("id")({ ...valid, id })),
    badRole.map((role) => invalid("role")({ ...valid, role })),
    badMeta.map((meta) => invalid("meta")({ ...valid, meta })),
    // Measured as the JSON stored: `{"k":"…"}` is 8 bytes around the value, and a control character escapes to 6.
    fc
      .integer({ min: maxMetaBytes - 7, max: maxMetaBytes * 4 })
      .map((length) => invalid("meta", "TOO_LARGE")({ ...valid, meta: { k: "v".repeat(length) } })),
    fc.constant(invalid("meta", "TOO_LARGE")({ ...valid, meta: { k: "\u0001".repeat(Math.ceil((maxMetaBytes - 7) / 6)) } })),
    fc.string({ minLength: 65, maxLength: 200 }).map((key) => invalid("meta", "TOO_LARGE")({ ...valid, meta: { [key]: 1 } })),
    withLoneSurrogate.map((content) => invalid("content")({ ...valid, content })),
    withLoneSurrogate.map((text) => invalid("meta")({ ...valid, meta: { [text]: "v" } })),
    withLoneSurrogate.map((text) => invalid("meta")({ ...valid, meta: { k: text } })),
  );
}

/** `history:load` payloads that break one rule each. */
export const invalidLoad: fc.Arbitrary<Invalid> = fc.oneof(
  fc
    .oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(anything, { maxLength: 3 }), binary)
    .map(invalid("payload")),
  badLimit.map((limit) => invalid("limit")({ limit })),
  badId.map((afterId) => invalid("afterId")({ afterId })),
);

/** `history:search` payloads that break one rule each. */
export const invalidSearch: fc.Arbitrary<Invalid> = fc.oneof(
  notObject.map(invalid("payload")),
  fc
    .oneof(notString, fc.constant(""), fc.string({ minLength: 257, maxLength: 400 }), hugeString)
    .map((query) => invalid("query")({ query })),
  fc.constant(invalid("query")({ role: "user" })),
  withLoneSurrogate.map((query) => invalid("query")({ query })),
  badRole.map((role) => invalid("role")({ query: "x", role })),
  badLimit.map((limit) => invalid("limit")({ query: "x", limit })),
);

/** `history:clear` payloads that break its one rule (an object or nothing). */
export const invalidClear: fc.Arbitrary<Invalid> = fc
  .oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(anything, { maxLength: 3 }), binary)
  .map(invalid("payload"));
