/**
 * The SDK's draft book (client-sdk/src/drafts.ts) against what a server
 * could send it: payloads of the wrong shape are ignored without throwing,
 * a draft's content and the number of live drafts stay within the bounds
 * PROTOCOL.md §4 (Drafts, client rules) gives.
 */
import { afterEach, expect, it } from "vitest";
import { DraftBook, MAX_DRAFT_CONTENT_LENGTH, MAX_LIVE_DRAFTS } from "../../client-sdk/src/drafts.js";
import { Emitter } from "../../client-sdk/src/emitter.js";
import type { ClientEvents } from "../../client-sdk/src/types.js";

const books: DraftBook[] = [];
afterEach(() => {
  for (const book of books.splice(0)) book.close();
});

function newBook() {
  const events = new Emitter<ClientEvents>();
  const ended: string[] = [];
  let resyncs = 0;
  events.on("draftEnd", (id, reason) => ended.push(`${id} ${reason}`));
  const book = new DraftBook({ events, isShown: () => false, resync: () => resyncs++ });
  books.push(book);
  return { book, ended, resyncs: () => resyncs };
}

const update = (fields: Record<string, unknown> = {}) => ({ id: "d1", role: "assistant", seq: 1, chunk: "hi", idleMs: 30_000, ...fields });

it("ignores draft:update payloads of the wrong shape, without throwing or asking for a reload", () => {
  const { book, ended, resyncs } = newBook();
  const bad: unknown[] = [
    null,
    undefined,
    "draft",
    42,
    [],
    {},
    update({ id: 7 }),
    update({ id: "" }),
    update({ id: "has space" }),
    update({ id: "x".repeat(65) }),
    update({ id: "__proto__!" }),
    update({ role: "admin" }),
    update({ role: undefined }),
    update({ chunk: 5 }),
    update({ chunk: { toString: () => "hi" } }),
    update({ chunk: undefined }),
    update({ seq: 0 }),
    update({ seq: -1 }),
    update({ seq: 1.5 }),
    update({ seq: "1" }),
    update({ seq: Number.MAX_SAFE_INTEGER + 1 }),
    update({ seq: Number.NaN }),
    update({ idleMs: 0 }),
    update({ idleMs: -5 }),
    update({ idleMs: 2 ** 31 }),
    update({ idleMs: "30000" }),
  ];
  for (const payload of bad) expect(() => book.apply(payload), JSON.stringify(payload) ?? String(payload)).not.toThrow();
  expect(() => book.discarded(null)).not.toThrow();
  expect(() => book.discarded({ id: "d1" })).not.toThrow();
  expect(() => book.loaded([null, { id: "d9" }, { id: "d8", role: "user", content: 3, seq: 1 }] as never)).not.toThrow();
  expect(() => book.loaded(null as never)).not.toThrow();
  expect({ list: book.list(), ended, resyncs: resyncs() }).toEqual({ list: [], ended: [], resyncs: 0 });

  // The same book still applies a good one.
  book.apply(update());
  expect(book.list()).toEqual([{ id: "d1", role: "assistant", content: "hi", seq: 1 }]);
});

it("ends a draft whose content would pass MAX_DRAFT_CONTENT_LENGTH, and leaves a loaded one over it out", () => {
  const { book, ended } = newBook();
  const half = "x".repeat(MAX_DRAFT_CONTENT_LENGTH / 2);
  book.apply(update({ chunk: half }));
  book.apply(update({ seq: 2, chunk: half }));
  expect(book.list()[0]?.content.length).toBe(MAX_DRAFT_CONTENT_LENGTH);
  book.apply(update({ seq: 3, chunk: "y" }));
  expect({ list: book.list(), ended }).toEqual({ list: [], ended: ["d1 discarded"] });

  book.loaded([{ id: "d2", role: "assistant", content: `${half}${half}y`, seq: 3, updatedAt: 0 }]);
  expect(book.list()).toEqual([]);
});

it("keeps at most MAX_LIVE_DRAFTS drafts: a new one beyond ends the oldest", () => {
  const { book, ended } = newBook();
  for (let n = 0; n < MAX_LIVE_DRAFTS + 5; n++) book.apply(update({ id: `d${n}`, chunk: `${n}` }));
  const list = book.list();
  expect(list.length).toBe(MAX_LIVE_DRAFTS);
  expect(list[0]?.id).toBe("d5");
  expect(list.at(-1)?.id).toBe(`d${MAX_LIVE_DRAFTS + 4}`);
  expect(ended).toEqual(["d0 discarded", "d1 discarded", "d2 discarded", "d3 discarded", "d4 discarded"]);
  // Growing a kept draft ends nothing, keeps its place, and gives a new frozen list.
  book.apply(update({ id: "d5", seq: 2, chunk: "!" }));
  expect(ended.length).toBe(5);
  expect(book.list()).not.toBe(list);
  expect(Object.isFrozen(book.list())).toBe(true);
  expect(book.list()[0]).toEqual({ id: "d5", role: "assistant", content: "5!", seq: 2 });
  // The same array until a draft changes.
  expect(book.list()).toBe(book.list());

  const loaded = Array.from({ length: MAX_LIVE_DRAFTS + 10 }, (_, n) => ({
    id: `l${n}`,
    role: "user" as const,
    content: "c",
    seq: 1,
    updatedAt: 0,
  }));
  book.loaded(loaded);
  expect(book.list().map((draft) => draft.id)).toEqual(loaded.slice(-MAX_LIVE_DRAFTS).map((draft) => draft.id));
});
