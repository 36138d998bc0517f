/** The read rules both stores share (PROTOCOL.md §4): history:load's afterId, gap and limit, and history:search. */

import type { Message, Role } from "@scrollback/client/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { searchWindow, selectWindow } from "../../server/src/store/history-window.js";

const ROLES: Role[] = ["user", "assistant", "system"];

/** A window of up to 20 messages with distinct ids m0, m1, … oldest first. */
const windowArb = fc
  .array(fc.record({ role: fc.constantFrom(...ROLES), content: fc.string({ maxLength: 12 }) }), { maxLength: 20 })
  .map((entries) =>
    entries.map(
      ({ role, content }, i): Message => ({
        id: `m${i}`,
        userId: "u",
        role,
        content,
        timestamp: `2026-01-01T00:00:${String(i).padStart(2, "0")}.000Z`,
      }),
    ),
  );

/** An afterId that is in the window, or one that is gone (trimmed or never there). */
const afterIdArb = (window: Message[]) =>
  fc.option(window.length > 0 ? fc.oneof(fc.constantFrom(...window.map((m) => m.id)), fc.constant("gone")) : fc.constant("gone"), {
    nil: undefined,
  });

const isSuffixOf = (part: Message[], whole: Message[]) => part.every((message, i) => message === whole[whole.length - part.length + i]);

describe("selectWindow", () => {
  it("returns the whole window, no gap, without options", () => {
    fc.assert(
      fc.property(windowArb, (window) => {
        expect(selectWindow(window)).toEqual({ messages: window, gap: false });
      }),
    );
  });

  it("returns what came after afterId, newest limit of it; a gap when afterId is gone or the limit cut some off", () => {
    fc.assert(
      fc.property(
        windowArb.chain((window) =>
          fc.tuple(fc.constant(window), afterIdArb(window), fc.option(fc.integer({ min: 1, max: 25 }), { nil: undefined })),
        ),
        ([window, afterId, limit]) => {
          const { messages, gap } = selectWindow(window, { afterId, limit });
          const found = afterId === undefined ? -1 : window.findIndex((m) => m.id === afterId);
          // After a known id: only the later messages. Unknown: the whole window.
          const candidates = found === -1 ? window : window.slice(found + 1);
          expect(messages).toHaveLength(Math.min(candidates.length, limit ?? Infinity));
          // Always the newest, oldest first: a suffix of the candidates (and so of the window).
          expect(isSuffixOf(messages, candidates)).toBe(true);
          const cut = messages.length < candidates.length;
          expect(gap).toBe(afterId !== undefined && (found === -1 || cut));
        },
      ),
    );
  });

  it("handles the edges by example", () => {
    const window: Message[] = ["a", "b", "c"].map((id) => ({ id, userId: "u", role: "user", content: id, timestamp: null }));
    expect(selectWindow(window, { afterId: "c" })).toEqual({ messages: [], gap: false });
    expect(selectWindow(window, { afterId: "a", limit: 2 })).toEqual({ messages: window.slice(1), gap: false });
    expect(selectWindow(window, { afterId: "a", limit: 1 })).toEqual({ messages: window.slice(2), gap: true });
    expect(selectWindow(window, { afterId: "zz" })).toEqual({ messages: window, gap: true });
    // A limit alone drops the oldest without calling it a gap: the client asked for the newest only.
    expect(selectWindow(window, { limit: 1 })).toEqual({ messages: window.slice(2), gap: false });
    expect(selectWindow([], { afterId: "a" })).toEqual({ messages: [], gap: true });
  });
});

describe("searchWindow", () => {
  it("keeps, in window order, the newest limit of the messages whose content contains the query in any case, of the role asked for", () => {
    fc.assert(
      fc.property(
        windowArb,
        fc.string({ maxLength: 3 }),
        fc.option(fc.constantFrom(...ROLES), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 25 }), { nil: undefined }),
        (window, query, role, limit) => {
          const found = searchWindow(window, { query, role, limit });
          const matching = window.filter(
            (m) => (role === undefined || m.role === role) && m.content.toLowerCase().includes(query.toLowerCase()),
          );
          expect(found).toHaveLength(Math.min(matching.length, limit ?? Infinity));
          expect(isSuffixOf(found, matching)).toBe(true);
        },
      ),
    );
  });

  it("matches regardless of case, and never a message of another role", () => {
    const window: Message[] = [
      { id: "1", userId: "u", role: "user", content: "Paris is lovely", timestamp: null },
      { id: "2", userId: "u", role: "assistant", content: "PARIS has museums", timestamp: null },
      { id: "3", userId: "u", role: "user", content: "Berlin", timestamp: null },
    ];
    expect(searchWindow(window, { query: "paris" }).map((m) => m.id)).toEqual(["1", "2"]);
    expect(searchWindow(window, { query: "pArIs", role: "assistant" }).map((m) => m.id)).toEqual(["2"]);
    expect(searchWindow(window, { query: "paris", limit: 1 }).map((m) => m.id)).toEqual(["2"]);
    expect(searchWindow(window, { query: "rome" })).toEqual([]);
  });
});
