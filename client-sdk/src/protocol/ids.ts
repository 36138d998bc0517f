/**
 * The id rules of the wire contract (PROTOCOL.md §2–§3), defined once and
 * free of zod so that browser code can use them: the zod schemas, the SDK,
 * the server's message codec and the demo widget all test against these.
 * (appendMessage.lua, which cannot import them, checks the same message id
 * rule with a Lua pattern.)
 *
 * Message ids created here are time-sortable ULIDs (48-bit millisecond time +
 * 80 random bits, Crockford base32, 26 characters). They match the message id
 * pattern, sort in creation order, and need no coordination between clients
 * and replicas.
 */

/** A message id: 1–64 of `A–Z a–z 0–9 _ -`. */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** {@link MESSAGE_ID_PATTERN} in words, for error messages. */
export const MESSAGE_ID_RULE = "1-64 of A-Z a-z 0-9 _ -";

/**
 * A user id: 1–128 of `A–Z a–z 0–9 _ . @ : -`. The `-` is escaped so that the
 * source also works as an HTML `pattern` attribute (compiled with the `v`
 * flag, where a bare `-` in a class is an error).
 */
// biome-ignore lint/complexity/noUselessEscapeInRegex: the escaped `-` keeps the source valid as an HTML `pattern` (compiled with the `v` flag), see above
export const USER_ID_PATTERN = /^[A-Za-z0-9_.@:\-]{1,128}$/;

/** {@link USER_ID_PATTERN} in words, for error messages. */
export const USER_ID_RULE = "1-128 of A-Z a-z 0-9 _ . @ : -";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * Creates a new ULID.
 * @example createMessageId() // "01JDQ3W7K5V8Z9X0ABCDEFGHJK"
 */
export function createMessageId(now: number = Date.now()): string {
  let time = "";
  let rest = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[rest % 32] + time;
    rest = Math.floor(rest / 32);
  }
  const random = new Uint8Array(16);
  globalThis.crypto.getRandomValues(random);
  let tail = "";
  for (const byte of random) tail += ALPHABET[byte & 31];
  return time + tail;
}
