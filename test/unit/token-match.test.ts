/** The service token comparison (server/src/http/token-match.ts): right answers for every shape of input. */
import { describe, expect, it } from "vitest";
import { bearerToken, secretMatches } from "../../server/src/http/token-match.js";

describe("secretMatches", () => {
  it("accepts the same secret", () => {
    expect(secretMatches("s3cret-token", "s3cret-token")).toBe(true);
    expect(secretMatches("ünïcode ✓", "ünïcode ✓")).toBe(true);
  });

  it("refuses a different secret of the same length", () => {
    expect(secretMatches("s3cret-token", "s3cret-tokeN")).toBe(false);
    expect(secretMatches("aaaa", "aaab")).toBe(false);
  });

  it("refuses a secret of another length, prefixes and extensions included", () => {
    expect(secretMatches("s3cret-token", "s3cret")).toBe(false);
    expect(secretMatches("s3cret-token", "s3cret-token-and-more")).toBe(false);
    expect(secretMatches("s3cret", "x".repeat(10_000))).toBe(false);
  });

  it("refuses an empty secret on either side", () => {
    expect(secretMatches("s3cret-token", "")).toBe(false);
    expect(secretMatches("", "")).toBe(false);
    expect(secretMatches("", "anything")).toBe(false);
  });
});

describe("bearerToken", () => {
  it("reads the token after the scheme, in any case, and nothing else", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bEaReR abc def")).toBe("abc def");
    expect(bearerToken("Basic abc")).toBe("");
    expect(bearerToken(undefined)).toBe("");
  });
});
