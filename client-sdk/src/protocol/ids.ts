/**
 * Time-sortable message ids (ULID: 48-bit millisecond time + 80 random bits,
 * Crockford base32, 26 characters). They match the message id pattern, sort
 * in creation order, and need no coordination between clients and replicas.
 */
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
