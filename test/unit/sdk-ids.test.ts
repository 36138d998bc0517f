/**
 * The id rules, defined once in protocol/ids.ts: the patterns themselves, the
 * places that must agree with them (zod schemas, derived ids of the message
 * codec, the widget's HTML pattern), and the ULIDs the SDK creates.
 */

import { createMessageId, MESSAGE_ID_PATTERN, USER_ID_PATTERN } from "@scrollback/client/protocol";
import { messageIdSchema, userIdSchema } from "@scrollback/client/protocol/schemas";
import { describe, expect, it } from "vitest";
import { decodeElement, deriveElementId } from "../../server/src/store/message-codec.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The millisecond time in a ULID's first 10 characters. */
function ulidTime(id: string): number {
  return [...id.slice(0, 10)].reduce((time, char) => time * 32 + CROCKFORD.indexOf(char), 0);
}

const MESSAGE_IDS = {
  valid: ["a", "A-z_09", "x".repeat(64), "01JDQ3W7K5V8Z9X0ABCDEFGHJK", `sha1-${"f".repeat(40)}`],
  invalid: ["", "x".repeat(65), "a.b", "a b", "a/b", "é", "abc\n", "\nabc", "a:b"],
};
const USER_IDS = {
  valid: ["alice", "team_lead_001", "a.b@c:d-e_f", "u".repeat(128), "-", "auth0:x"],
  invalid: ["", "u".repeat(129), "a b", "a/b", "a|b", "josé", "alice\n", "<script>"],
};

describe("the id patterns", () => {
  it("accept message ids of 1-64 of A-Z a-z 0-9 _ - and nothing else", () => {
    for (const id of MESSAGE_IDS.valid) expect(MESSAGE_ID_PATTERN.test(id), JSON.stringify(id)).toBe(true);
    for (const id of MESSAGE_IDS.invalid) expect(MESSAGE_ID_PATTERN.test(id), JSON.stringify(id)).toBe(false);
  });

  it("accept user ids of 1-128 of A-Z a-z 0-9 _ . @ : - and nothing else", () => {
    for (const id of USER_IDS.valid) expect(USER_ID_PATTERN.test(id), JSON.stringify(id)).toBe(true);
    for (const id of USER_IDS.invalid) expect(USER_ID_PATTERN.test(id), JSON.stringify(id)).toBe(false);
  });

  it("are what the zod schemas check", () => {
    for (const id of [...MESSAGE_IDS.valid, ...MESSAGE_IDS.invalid]) {
      expect(messageIdSchema.safeParse(id).success, JSON.stringify(id)).toBe(MESSAGE_ID_PATTERN.test(id));
    }
    for (const id of [...USER_IDS.valid, ...USER_IDS.invalid]) {
      expect(userIdSchema.safeParse(id).success, JSON.stringify(id)).toBe(USER_ID_PATTERN.test(id));
    }
  });

  it("the user id pattern works as the widget's HTML pattern attribute (compiled with the v flag)", () => {
    // What a browser does with <input pattern>: ^(?:pattern)$ with the v flag.
    const html = new RegExp(`^(?:${USER_ID_PATTERN.source})$`, "v");
    for (const id of [...USER_IDS.valid, ...USER_IDS.invalid]) expect(html.test(id), JSON.stringify(id)).toBe(USER_ID_PATTERN.test(id));
  });
});

describe("derived message ids (message codec)", () => {
  it("fit the message id pattern and are stable for the same bytes", () => {
    for (const raw of ['{"content":"no id"}', '{"id":"bad id!","content":"x"}', "x".repeat(10_000)]) {
      const id = deriveElementId(raw);
      expect(id).toMatch(MESSAGE_ID_PATTERN);
      expect(deriveElementId(Buffer.from(raw))).toBe(id);
    }
  });

  it("replace exactly the ids that do not fit the pattern", () => {
    for (const id of MESSAGE_IDS.valid) expect(decodeElement(JSON.stringify({ id, content: "c" }), "u")!.id).toBe(id);
    for (const id of MESSAGE_IDS.invalid) {
      const raw = JSON.stringify({ id, content: "c" });
      expect(decodeElement(raw, "u")!.id, JSON.stringify(id)).toBe(deriveElementId(raw));
    }
  });
});

describe("createMessageId", () => {
  it("is a 26-character Crockford base32 ULID that fits the message id pattern", () => {
    for (let i = 0; i < 200; i++) {
      const id = createMessageId();
      expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(id).toMatch(MESSAGE_ID_PATTERN);
    }
  });

  it("encodes its creation time in the first 10 characters", () => {
    for (const now of [0, 1, 31, 32, 1_700_000_000_000, Date.UTC(2026, 10, 29), 2 ** 48 - 1]) {
      expect(ulidTime(createMessageId(now)), `now ${now}`).toBe(now);
    }
    expect(createMessageId(0).slice(0, 10)).toBe("0000000000");
    expect(createMessageId(2 ** 48 - 1).slice(0, 10)).toBe("7ZZZZZZZZZ");
    const before = Date.now();
    const time = ulidTime(createMessageId());
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });

  it("sorts in creation order across milliseconds", () => {
    const times = [1_000, 1_001, 1_031, 1_032, 1_700_000_000_000, 1_700_000_000_001];
    const ids = times.map((now) => createMessageId(now));
    expect([...ids].sort()).toEqual(ids);
  });

  it("is unique within one millisecond, with random tails over the whole alphabet", () => {
    const ids = Array.from({ length: 5_000 }, () => createMessageId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    const tailChars = new Set(ids.flatMap((id) => [...id.slice(10)]));
    expect(tailChars.size).toBe(32);
  });
});
