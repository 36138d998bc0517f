/**
 * identityOf: whose persisted outbox a client may open, read from the
 * credentials without verifying them.
 */
import { describe, expect, it } from "vitest";
import { identityOf } from "../../client-sdk/src/identity.js";

/** An unsigned JWT-shaped token (header.payload.signature) with `claims` as its payload, base64url like real JWTs. */
function tokenWith(claims: unknown): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe("identityOf", () => {
  it("is the dev-mode userId, before anything a token says", () => {
    expect(identityOf({ userId: "alice" })).toBe("alice");
    expect(identityOf({ userId: "alice", token: tokenWith({ sub: "mallory" }) })).toBe("alice");
  });

  it("is the token's sub claim", () => {
    expect(identityOf({ token: tokenWith({ sub: "user_42", exp: 2_000_000_000 }) })).toBe("user_42");
  });

  it("reads base64url payloads whatever their length, with - and _ and no padding", () => {
    // Subs of every length mod 3 give payloads of every unpadded length, and
    // these characters encode to base64url's own '-' and '_' digits.
    for (const sub of ["a", "ab", "abc", "abcd", "x?>~ü", "a???", "ab???", "??~"]) {
      const token = tokenWith({ sub });
      const payload = token.split(".")[1]!;
      expect(payload).not.toContain("=");
      expect(identityOf({ token }), `sub ${sub} (payload ${payload})`).toBe(sub);
    }
    const payloads = ["x?>~ü", "a???", "ab???", "??~"].map((sub) => tokenWith({ sub }).split(".")[1]!).join("");
    expect(payloads).toMatch(/-/);
    expect(payloads).toMatch(/_/);
  });

  it("decodes the payload as UTF-8", () => {
    expect(identityOf({ token: tokenWith({ sub: "josé@例え.jp" }) })).toBe("josé@例え.jp");
  });

  it("is undefined when the token names no one readable", () => {
    expect(identityOf({})).toBeUndefined();
    expect(identityOf({ token: "" })).toBeUndefined();
    expect(identityOf({ token: "opaque-access-token" })).toBeUndefined();
    expect(identityOf({ token: "a..c" })).toBeUndefined();
    expect(identityOf({ token: "a.!!!not base64!!!.c" })).toBeUndefined();
    expect(identityOf({ token: `a.${Buffer.from("not json").toString("base64url")}.c` })).toBeUndefined();
    expect(identityOf({ token: tokenWith(null) })).toBeUndefined();
    expect(identityOf({ token: tokenWith("alice") })).toBeUndefined();
    expect(identityOf({ token: tokenWith({ name: "alice" }) })).toBeUndefined();
    expect(identityOf({ token: tokenWith({ sub: 42 }) })).toBeUndefined();
    expect(identityOf({ token: tokenWith({ sub: { id: "alice" } }) })).toBeUndefined();
  });
});
