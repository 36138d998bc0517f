/** The stored form of a message and the tolerant reader for elements other programs wrote (PROTOCOL.md §2). */

import type { MessageMeta, Role } from "@scrollback/client/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeElement,
  decodeElements,
  deriveElementId,
  encodeElement,
  READ_META_MAX_BYTES,
} from "../../server/src/store/message-codec.js";
import type { NewMessage } from "../../server/src/store/store.js";

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const ROLES: Role[] = ["user", "assistant", "system"];

const idArb = fc.stringMatching(ID_PATTERN);
const metaArb: fc.Arbitrary<MessageMeta> = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((key) => key !== "__proto__"),
  fc.oneof(
    fc.string(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
    fc.boolean(),
    fc.constant(null),
  ),
  { minKeys: 1, maxKeys: 5 },
);
const newMessageArb: fc.Arbitrary<NewMessage> = fc.record(
  {
    id: idArb,
    role: fc.constantFrom(...ROLES),
    content: fc.string({ unit: "grapheme", maxLength: 40 }),
    timestamp: fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
    meta: metaArb,
  },
  { requiredKeys: ["id", "role", "content", "timestamp"] },
);

/** What the original Python app pushes: `json.dumps(message)`, with its separators and its own fields. */
function pythonDumps(fields: Record<string, unknown>): string {
  return JSON.stringify(fields).replace(/","/g, '", "').replace(/":/g, '": ');
}

describe("encodeElement / decodeElement", () => {
  it("reads back exactly what it wrote, for the user whose list it is", () => {
    fc.assert(
      fc.property(newMessageArb, idArb, (message, userId) => {
        expect(decodeElement(encodeElement(message), userId)).toEqual({ ...message, userId });
      }),
    );
  });

  it("reads a Buffer as its UTF-8 string", () => {
    fc.assert(
      fc.property(newMessageArb, (message) => {
        const raw = encodeElement(message);
        expect(decodeElement(Buffer.from(raw, "utf8"), "u")).toEqual(decodeElement(raw, "u"));
      }),
    );
  });
});

describe("foreign elements (the original Python app)", () => {
  it("gets a derived id, stable across reads, matching the id pattern, different for different bytes", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (a, b) => {
        const first = pythonDumps({ role: "user", content: a });
        const message = decodeElement(first, "u")!;
        expect(message.id).toMatch(ID_PATTERN);
        expect(message.id).toBe(deriveElementId(first));
        expect(decodeElement(first, "other-user")!.id).toBe(message.id);
        expect(decodeElement(Buffer.from(first), "u")!.id).toBe(message.id);
        const second = pythonDumps({ role: "user", content: b });
        if (second !== first) expect(decodeElement(second, "u")!.id).not.toBe(message.id);
      }),
    );
  });

  it("keeps the Python fields it knows, passes its timestamp through verbatim and drops the rest", () => {
    const raw = pythonDumps({
      role: "assistant",
      content: "Caf\u00e9 ok",
      timestamp: "2024-05-01T12:30:00.123456",
      user_id: "alice",
      metadata: { x: 1 },
    });
    expect(raw).toContain('", "');
    expect(decodeElement(raw, "alice")).toEqual({
      id: deriveElementId(raw),
      userId: "alice",
      role: "assistant",
      content: "Café ok",
      timestamp: "2024-05-01T12:30:00.123456",
    });
    // ensure_ascii escapes, as Python writes them by default.
    expect(decodeElement('{"content": "caf\\u00e9 \\ud83d\\ude00"}', "u")!.content).toBe("café 😀");
  });

  it("reads a timestamp that is not a string as null", () => {
    for (const timestamp of [1714566600, null, true, { $date: 1 }]) {
      expect(decodeElement(JSON.stringify({ content: "x", timestamp }), "u")!.timestamp).toBeNull();
    }
    expect(decodeElement(JSON.stringify({ content: "x" }), "u")!.timestamp).toBeNull();
  });

  it("reads an unknown or missing role as user", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string().filter((role) => !(ROLES as string[]).includes(role)),
          fc.integer(),
          fc.constant(null),
          fc.constant(undefined),
        ),
        (role) => {
          expect(decodeElement(JSON.stringify({ role, content: "x" }), "u")!.role).toBe("user");
        },
      ),
    );
    expect(decodeElement(JSON.stringify({ role: "User", content: "x" }), "u")!.role).toBe("user");
    expect(decodeElement(JSON.stringify({ role: "system", content: "x" }), "u")!.role).toBe("system");
  });

  it("derives an id when its own is not a usable id", () => {
    for (const id of ["has space", "a".repeat(65), "", 42, null, ["x"]]) {
      const raw = JSON.stringify({ id, content: "x" });
      expect(decodeElement(raw, "u")!.id, JSON.stringify(id)).toBe(deriveElementId(raw));
    }
    expect(decodeElement(JSON.stringify({ id: "a".repeat(64), content: "x" }), "u")!.id).toBe("a".repeat(64));
  });

  it("keeps only flat meta values, and no meta when none is left", () => {
    const raw = JSON.stringify({ content: "x", meta: { lang: "en", n: 2, ok: false, none: null, nested: { a: 1 }, list: [1] } });
    expect(decodeElement(raw, "u")!.meta).toEqual({ lang: "en", n: 2, ok: false, none: null });
    expect(decodeElement(JSON.stringify({ content: "x", meta: { nested: {} } }), "u")).not.toHaveProperty("meta");
    expect(decodeElement(JSON.stringify({ content: "x", meta: "not an object" }), "u")).not.toHaveProperty("meta");
    const polluted = decodeElement('{"content": "x", "meta": {"__proto__": "p", "k": 1}}', "u")!;
    expect(Object.getPrototypeOf(polluted.meta)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).k).toBeUndefined();
  });

  it("drops the keys input refuses and keeps at most 32, as input does", () => {
    const reserved = decodeElement('{"content": "x", "meta": {"__proto__": "x", "constructor": 1, "prototype": true, "k": 1}}', "u")!;
    expect(Object.keys(reserved.meta!)).toEqual(["k"]);
    expect(Object.hasOwn(reserved.meta!, "__proto__")).toBe(false);
    expect(Object.getPrototypeOf(reserved.meta)).toBe(Object.prototype);
    expect(decodeElement('{"content": "x", "meta": {"__proto__": "x", "constructor": 1}}', "u")).not.toHaveProperty("meta");
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
    const capped = decodeElement(JSON.stringify({ content: "x", meta: { skipped: [1], ...many } }), "u")!;
    expect(capped.meta).toEqual(Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, i])));
  });

  it("drops keys over 64 characters (code points), as input refuses them", () => {
    const emoji = "\u{1F600}";
    const meta = { ["k".repeat(64)]: 1, ["k".repeat(65)]: 2, [emoji.repeat(64)]: 3, [emoji.repeat(65)]: 4 };
    expect(decodeElement(JSON.stringify({ content: "x", meta }), "u")!.meta).toEqual({ ["k".repeat(64)]: 1, [emoji.repeat(64)]: 3 });
  });

  it("serves no more than READ_META_MAX_BYTES of meta JSON: 32 keys of 1 MB each are dropped, small ones kept", () => {
    const huge = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`big${i}`, "x".repeat(1_000_000)]));
    expect(decodeElement(JSON.stringify({ content: "x", meta: huge }), "u")).not.toHaveProperty("meta");
    const mixed = { a: 1, big: "x".repeat(1_000_000), b: "small" };
    expect(decodeElement(JSON.stringify({ content: "x", meta: mixed }), "u")!.meta).toEqual({ a: 1, b: "small" });
  });

  it("reads back whole a meta at the largest MAX_META_BYTES, and drops what a byte more takes over", () => {
    // `{"k":"…"}` is 8 bytes around the value; the emoji makes it count UTF-8 bytes, not units.
    const value = (bytes: number) => `\u{1F600}${"v".repeat(bytes - 8 - 4)}`;
    const atCeiling = { k: value(READ_META_MAX_BYTES) };
    expect(Buffer.byteLength(JSON.stringify(atCeiling))).toBe(READ_META_MAX_BYTES);
    const message: NewMessage = { id: "m1", role: "user", content: "x", timestamp: "2024-01-01T00:00:00.000Z", meta: atCeiling };
    expect(decodeElement(encodeElement(message), "u")!.meta).toEqual(atCeiling);
    // Two entries: the second (`,"z":1`, 6 bytes) would take it over by one byte, so only it is dropped.
    const first = { k: value(READ_META_MAX_BYTES - 5) };
    const overByOne = { ...first, z: 1 };
    expect(Buffer.byteLength(JSON.stringify(overByOne))).toBe(READ_META_MAX_BYTES + 1);
    expect(decodeElement(JSON.stringify({ content: "x", meta: overByOne }), "u")!.meta).toEqual(first);
    const fits = { k: value(READ_META_MAX_BYTES - 6), z: 1 };
    expect(Buffer.byteLength(JSON.stringify(fits))).toBe(READ_META_MAX_BYTES);
    expect(decodeElement(JSON.stringify({ content: "x", meta: fits }), "u")!.meta).toEqual(fits);
  });
});

describe("garbage", () => {
  it("is null for anything but a JSON object with a string content", () => {
    const garbage = [
      "",
      "not json",
      "{",
      "[]",
      '["content"]',
      "42",
      '"content"',
      "null",
      "true",
      "{}",
      '{"content": 5}',
      '{"content": null}',
      '{"text": "hi"}',
      "\u0000\u00ff",
    ];
    for (const raw of garbage) expect(decodeElement(raw, "u"), raw).toBeNull();
    expect(decodeElement(Buffer.from([0xff, 0xfe, 0x00]), "u")).toBeNull();
  });

  it("never throws on any bytes", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.uint8Array().map((bytes) => Buffer.from(bytes)),
        ),
        (raw) => {
          const message = decodeElement(raw, "u");
          if (message !== null) {
            expect(typeof message.content).toBe("string");
            expect(message.id).toMatch(ID_PATTERN);
            expect(ROLES).toContain(message.role);
          }
        },
      ),
    );
  });

  it("is skipped and counted when a whole list is decoded, the rest kept in order", () => {
    const good = [
      encodeElement({ id: "a", role: "user", content: "one", timestamp: "2026-01-01T00:00:00.000Z" }),
      pythonDumps({ role: "assistant", content: "two" }),
    ];
    const { messages, skipped } = decodeElements(["junk", good[0]!, "[1]", Buffer.from(good[1]!), '{"content": 1}'], "u");
    expect(skipped).toBe(3);
    expect(messages.map((m) => m.content)).toEqual(["one", "two"]);
  });
});

describe("the largest element (PROTOCOL.md §7)", () => {
  // The figure PROTOCOL.md and the README state: ids, role, timestamp and the JSON around them.
  const FIELD_BYTES = 152;

  it("is 6 × MAX_MESSAGE_BYTES + MAX_META_BYTES + 152 bytes: control characters escape to six bytes each", () => {
    const [maxMessageBytes, maxMetaBytes] = [16_384, 2_048];
    const element = encodeElement({
      id: "i".repeat(64),
      role: "assistant",
      content: "\u0001".repeat(maxMessageBytes),
      timestamp: new Date().toISOString(),
      meta: { k: "v".repeat(maxMetaBytes - 8) },
    });
    expect(Buffer.byteLength(element)).toBe(6 * maxMessageBytes + maxMetaBytes + FIELD_BYTES);
  });

  it("grows content at most sixfold in JSON, whatever its characters", () => {
    // JSON escapes per character: every UTF-16 unit (lone surrogates included) and a pair stand for all.
    const characters = Array.from({ length: 0x10000 }, (_, unit) => String.fromCharCode(unit)).concat("😀");
    const growth = (text: string) => (Buffer.byteLength(JSON.stringify(text)) - 2) / Buffer.byteLength(text);
    expect(Math.max(...characters.map(growth))).toBe(6);
  });
});
