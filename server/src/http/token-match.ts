/**
 * Comparing a presented secret with the configured one in constant time.
 * Both sides are hashed to SHA-256 first, so the comparison always runs over
 * 32 bytes: there is no length check to return early on, and the time taken
 * says nothing about the secret's length or its matching prefix.
 */
import { createHash, timingSafeEqual } from "node:crypto";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Whether `given` equals `expected`. An empty `expected` never matches (no secret configured means no access). */
export function secretMatches(expected: string, given: string): boolean {
  const same = timingSafeEqual(digest(given), digest(expected));
  return same && expected.length > 0;
}

/** The token of an `Authorization: Bearer <token>` header ("" when absent or of another scheme). */
export function bearerToken(header: string | undefined): string {
  // The scheme name is case-insensitive (RFC 7235).
  return header && /^bearer /i.test(header) ? header.slice(7) : "";
}
