/**
 * One contract for every Store: run against MemoryStore and RedisStore alike,
 * so the embedded store cannot drift from the Redis one.
 */
import { createMessageId } from "@scrollback/client/protocol";
import { describe, expect, it } from "vitest";
import { AppError } from "../../server/src/errors.js";
import type { DraftChunk, NewMessage, Store } from "../../server/src/store/store.js";

/** A store as the contract tests it: the `Store` interface, plus the TTL both implementations expose for tests. */
export type TestedStore = Store & { ttlSeconds(userId: string): Promise<number | null> };

export interface StoreHarness {
  store: TestedStore;
  /** A second store over the same data (another replica), where the backend is shared. */
  twin: TestedStore;
  /** Writes an element as another program would (RPUSH + LTRIM + EXPIRE). */
  writeForeign(userId: string, element: string): Promise<void>;
  /** Unreadable elements the store has reported so far. */
  skipped(): number;
  close(): Promise<void>;
}

export interface HarnessSettings {
  historyMax: number;
  historyTtlSeconds: number;
  draftIdleMs?: number;
  maxDraftsPerUser?: number;
  maxDraftBytes?: number;
}

let counter = 0;
/** A user id no other test touches. */
export function freshUser(): string {
  return `user_${process.pid}_${Date.now()}_${counter++}`;
}

export function newMessage(content: string, overrides: Partial<NewMessage> = {}): NewMessage {
  return { id: createMessageId(), role: "user", content, timestamp: new Date().toISOString(), ...overrides };
}

export function describeStoreContract(name: string, open: (settings: HarnessSettings) => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    const withStore = async (settings: Partial<HarnessSettings>, body: (harness: StoreHarness) => Promise<void>) => {
      const harness = await open({ historyMax: 15, historyTtlSeconds: 86_400, ...settings });
      try {
        await body(harness);
      } finally {
        await harness.close();
      }
    };

    it("keeps the newest historyMax messages, oldest first", () =>
      withStore({ historyMax: 5 }, async ({ store }) => {
        const user = freshUser();
        for (let i = 0; i < 8; i++) await store.append(user, newMessage(`m${i}`));
        const { messages, gap } = await store.load(user);
        expect(messages.map((m) => m.content)).toEqual(["m3", "m4", "m5", "m6", "m7"]);
        expect(gap).toBe(false);
        expect(messages.every((m) => m.userId === user)).toBe(true);
      }));

    it("returns the stored message with the user id", () =>
      withStore({}, async ({ store }) => {
        const user = freshUser();
        const input = newMessage("hello", { role: "assistant", meta: { model: "x", tokens: 3, final: true, none: null } });
        const { message, duplicate } = await store.append(user, input);
        expect(duplicate).toBe(false);
        expect(message).toEqual({ ...input, userId: user });
        expect((await store.load(user)).messages).toEqual([{ ...input, userId: user }]);
      }));

    it("sets the TTL on add and restarts it on every add", () =>
      withStore({ historyTtlSeconds: 100 }, async ({ store }) => {
        const user = freshUser();
        expect(await store.ttlSeconds(user)).toBeNull();
        await store.append(user, newMessage("a"));
        const first = await store.ttlSeconds(user);
        expect(first).toBeGreaterThanOrEqual(99);
        expect(first).toBeLessThanOrEqual(100);
        await store.append(user, newMessage("b"));
        expect(await store.ttlSeconds(user)).toBeGreaterThanOrEqual(99);
      }));

    it("forgets a history once its TTL passes", () =>
      withStore({ historyTtlSeconds: 1 }, async ({ store }) => {
        const user = freshUser();
        await store.append(user, newMessage("short-lived"));
        expect((await store.load(user)).messages).toHaveLength(1);
        await new Promise((resolve) => setTimeout(resolve, 1_300));
        expect((await store.load(user)).messages).toEqual([]);
        expect(await store.ttlSeconds(user)).toBeNull();
      }));

    it("dedupes by id: a repeated id stores nothing and returns the kept message", () =>
      withStore({}, async ({ store }) => {
        const user = freshUser();
        const first = newMessage("original", { id: "client-id-1" });
        await store.append(user, first);
        const again = await store.append(user, newMessage("retry with other content", { id: "client-id-1" }));
        expect(again.duplicate).toBe(true);
        expect(again.message.content).toBe("original");
        expect((await store.load(user)).messages).toHaveLength(1);
      }));

    it("dedupes by id whatever the text holds: lone UTF-16 surrogates (a cut-off emoji) in content and meta, written by us or by another program", () =>
      withStore({}, async ({ store, writeForeign }) => {
        const user = freshUser();
        const cutOff = "a cut-off emoji \uD83D";
        await store.append(user, newMessage(cutOff, { id: "lone-1", meta: { "\uDE00": "\uD83D" } }));
        const again = await store.append(user, newMessage(cutOff, { id: "lone-1" }));
        expect(again.duplicate).toBe(true);
        expect(again.message.content).toBe(cutOff);
        await writeForeign(user, JSON.stringify({ id: "lone-2", role: "user", content: "\uDC00 and a pair \uD83D\uDE00" }));
        expect((await store.append(user, newMessage("retry", { id: "lone-2" }))).duplicate).toBe(true);
        expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["lone-1", "lone-2"]);
      }));

    it("stores a repeated id again once the first has left the window", () =>
      withStore({ historyMax: 2 }, async ({ store }) => {
        const user = freshUser();
        await store.append(user, newMessage("a", { id: "old" }));
        await store.append(user, newMessage("b"));
        await store.append(user, newMessage("c"));
        expect((await store.append(user, newMessage("a again", { id: "old" }))).duplicate).toBe(false);
      }));

    it("forgets ids on clear: the same id is stored again afterwards", () =>
      withStore({}, async ({ store }) => {
        const user = freshUser();
        await store.append(user, newMessage("before", { id: "kept-then-cleared" }));
        await store.clear(user);
        expect((await store.append(user, newMessage("after", { id: "kept-then-cleared" }))).duplicate).toBe(false);
        expect((await store.load(user)).messages.map((m) => m.content)).toEqual(["after"]);
      }));

    it("dedupes at either end of a large window, and forgets exactly what left it", () =>
      withStore({ historyMax: 300 }, async ({ store }) => {
        const user = freshUser();
        for (let i = 0; i < 300; i++) await store.append(user, newMessage(`m${i}`, { id: `id-${i}` }));
        for (const i of [0, 1, 150, 298, 299]) {
          expect((await store.append(user, newMessage("retry", { id: `id-${i}` }))).message.content).toBe(`m${i}`);
        }
        await store.append(user, newMessage("m300", { id: "id-300" }));
        expect((await store.append(user, newMessage("back", { id: "id-0" }))).duplicate).toBe(false);
        expect((await store.append(user, newMessage("back", { id: "id-1" }))).duplicate).toBe(false);
        expect((await store.append(user, newMessage("retry", { id: "id-3" }))).duplicate).toBe(true);
        const { messages } = await store.load(user);
        expect(messages).toHaveLength(300);
        expect(new Set(messages.map((m) => m.id)).size).toBe(300);
      }));

    it("dedupes exactly while another program pushes and trims the same list", () =>
      withStore({ historyMax: 5 }, async ({ store, writeForeign }) => {
        const user = freshUser();
        for (const id of ["a", "b", "c", "d", "e"]) await store.append(user, newMessage(id, { id }));
        // The original app's RPUSH + LTRIM: the window keeps its length, "a" and "b" leave it.
        await writeForeign(user, JSON.stringify({ id: "py-1", role: "user", content: "from python" }));
        await writeForeign(user, JSON.stringify({ id: "py-2", role: "assistant", content: "also python" }));
        expect((await store.append(user, newMessage("retry", { id: "c" }))).duplicate).toBe(true);
        expect((await store.append(user, newMessage("retry", { id: "py-1" }))).duplicate).toBe(true);
        expect((await store.append(user, newMessage("a again", { id: "a" }))).duplicate).toBe(false);
        // "c" has now left the window too; "d" has not.
        expect((await store.append(user, newMessage("c again", { id: "c" }))).duplicate).toBe(false);
        expect((await store.append(user, newMessage("retry", { id: "py-2" }))).duplicate).toBe(true);
        expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["e", "py-1", "py-2", "a", "c"]);
      }));

    it("searches content case-insensitively, oldest first, narrowed by role and limit", () =>
      withStore({}, async ({ store }) => {
        const user = freshUser();
        await store.append(user, newMessage("The Weather is nice"));
        await store.append(user, newMessage("weather again", { role: "assistant" }));
        await store.append(user, newMessage("unrelated"));
        await store.append(user, newMessage("WEATHER report"));
        const all = await store.search(user, { query: "wEaThEr" });
        expect(all.map((m) => m.content)).toEqual(["The Weather is nice", "weather again", "WEATHER report"]);
        const assistant = await store.search(user, { query: "weather", role: "assistant" });
        expect(assistant.map((m) => m.content)).toEqual(["weather again"]);
        const newest = await store.search(user, { query: "weather", limit: 2 });
        expect(newest.map((m) => m.content)).toEqual(["weather again", "WEATHER report"]);
        expect(await store.search(user, { query: "nothing like it" })).toEqual([]);
      }));

    it("loads after an id, and the whole window with gap when the id is gone", () =>
      withStore({ historyMax: 4 }, async ({ store }) => {
        const user = freshUser();
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push((await store.append(user, newMessage(`m${i}`))).message.id);
        const after = await store.load(user, { afterId: ids[1] });
        expect(after.messages.map((m) => m.content)).toEqual(["m2", "m3"]);
        expect(after.gap).toBe(false);
        const latest = await store.load(user, { afterId: ids[3] });
        expect(latest).toEqual({ messages: [], gap: false, drafts: [] });

        await store.append(user, newMessage("m4"));
        await store.append(user, newMessage("m5"));
        const gone = await store.load(user, { afterId: ids[0] });
        expect(gone.gap).toBe(true);
        expect(gone.messages.map((m) => m.content)).toEqual(["m2", "m3", "m4", "m5"]);
      }));

    it("keeps the newest limit, with gap when that drops messages after afterId", () =>
      withStore({}, async ({ store }) => {
        const user = freshUser();
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) ids.push((await store.append(user, newMessage(`m${i}`))).message.id);
        expect(await store.load(user, { limit: 2 })).toMatchObject({ gap: false, messages: [{ content: "m4" }, { content: "m5" }] });
        const cut = await store.load(user, { afterId: ids[0], limit: 3 });
        expect(cut.messages.map((m) => m.content)).toEqual(["m3", "m4", "m5"]);
        expect(cut.gap).toBe(true);
        const whole = await store.load(user, { afterId: ids[2], limit: 3 });
        expect(whole).toMatchObject({ gap: false });
        expect(whole.messages).toHaveLength(3);
      }));

    it("clears a history and reports how much it held", () =>
      withStore({}, async ({ store }) => {
        const user = freshUser();
        await store.append(user, newMessage("a"));
        await store.append(user, newMessage("b"));
        expect((await store.clear(user)).removed).toBe(2);
        expect((await store.load(user)).messages).toEqual([]);
        expect((await store.clear(user)).removed).toBe(0);
      }));

    it("keeps users apart", () =>
      withStore({}, async ({ store }) => {
        const alice = freshUser();
        const bob = freshUser();
        await store.append(alice, newMessage("for alice", { id: "same-id" }));
        expect((await store.append(bob, newMessage("for bob", { id: "same-id" }))).duplicate).toBe(false);
        expect((await store.load(bob)).messages.map((m) => m.content)).toEqual(["for bob"]);
        await store.clear(alice);
        expect((await store.load(bob)).messages).toHaveLength(1);
      }));

    it("serves elements written by the Python app, with stable derived ids", () =>
      withStore({}, async ({ store, twin, writeForeign }) => {
        const user = freshUser();
        // json.dumps output: spaces after separators, zoneless timestamp, extra fields, no id.
        await writeForeign(
          user,
          '{"role": "assistant", "content": "from python", "timestamp": "2024-05-01T10:00:00.123456", "user_id": "x"}',
        );
        await writeForeign(user, '{"content": "no role", "timestamp": 1714557600}');
        await writeForeign(user, '{"id": "py-1", "role": "wizard", "content": "odd role"}');
        const { messages } = await store.load(user);
        expect(messages).toHaveLength(3);
        expect(messages[0]).toMatchObject({
          role: "assistant",
          content: "from python",
          timestamp: "2024-05-01T10:00:00.123456",
          userId: user,
        });
        expect(messages[0]!.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
        expect(messages[1]).toMatchObject({ role: "user", timestamp: null });
        expect(messages[2]).toMatchObject({ id: "py-1", role: "user" });
        // Same id on every read and every replica.
        expect((await twin.load(user)).messages.map((m) => m.id)).toEqual(messages.map((m) => m.id));
        expect(messages[0]!.id).not.toBe(messages[1]!.id);
        // A derived id dedupes like any other.
        const again = await store.append(user, newMessage("resent", { id: messages[0]!.id }));
        expect(again).toMatchObject({ duplicate: true, message: { content: "from python" } });
        // afterId works with derived ids.
        expect((await store.load(user, { afterId: messages[0]!.id })).messages).toHaveLength(2);
      }));

    it("skips and counts garbage elements without breaking reads or writes", () =>
      withStore({}, async ({ store, writeForeign, skipped }) => {
        const user = freshUser();
        await store.append(user, newMessage("before"));
        for (const garbage of [
          "not json",
          "[1,2,3]",
          '"a string"',
          "42",
          "null",
          '{"content": 5}',
          '{"no": "content"}',
          '{"content": "unterminated',
        ]) {
          await writeForeign(user, garbage);
        }
        await store.append(user, newMessage("after", { id: "after-id" }));
        const before = skipped();
        const { messages } = await store.load(user);
        expect(messages.map((m) => m.content)).toEqual(["before", "after"]);
        expect(skipped() - before).toBe(8);
        expect(await store.search(user, { query: "o" })).toHaveLength(1);
        expect((await store.append(user, newMessage("x", { id: "after-id" }))).duplicate).toBe(true);
      }));

    it("reads elements as JSON.parse does: one it refuses (NaN, hex, 1., raw control characters in a string) is skipped, and an add of its id is stored, never INTERNAL", () =>
      withStore({}, async ({ store, writeForeign, skipped }) => {
        const user = freshUser();
        const refused = {
          "nan-1": '{"id":"nan-1","content":"x","n":NaN}',
          "inf-1": '{"id":"inf-1","content":"x","n":-Infinity}',
          "hex-1": '{"id":"hex-1","content":"x","n":0x10}',
          "zero-1": '{"id":"zero-1","content":"x","n":012}',
          "dot-1": '{"id":"dot-1","content":"x","n":1.}',
          "dot-2": '{"id":"dot-2","content":"x","n":[-.5]}',
          "dot-3": '{"id":"dot-3","content":"x","n":1.e5}',
          "ctl-1": '{"id":"ctl-1","content":"a\u0001b"}',
          "lf-1": '{"id":"lf-1","content":"a\nb"}',
          "tab-1": '{"id":"tab-1","content":"a\tb"}',
        };
        for (const element of Object.values(refused)) await writeForeign(user, element);
        // Tab, LF and CR between the fields are JSON whitespace, and a "." in a string is text: that element is read and deduped.
        await writeForeign(user, '{\n\t"id": "pretty-1",\r\n  "content": "v1. .5 \\" 1.", "n": [0.5, -1.5e3]\n}');
        const before = skipped();
        expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["pretty-1"]);
        expect(skipped() - before).toBe(Object.keys(refused).length);
        for (const id of Object.keys(refused)) expect((await store.append(user, newMessage("again", { id }))).duplicate).toBe(false);
        expect((await store.append(user, newMessage("retry", { id: "pretty-1" }))).duplicate).toBe(true);
        expect((await store.load(user)).messages.map((m) => m.id)).toEqual(["pretty-1", ...Object.keys(refused)]);
      }));

    it("never loses concurrent appends from two clients beyond the cap, never exceeds it, always has a TTL", () =>
      withStore({ historyMax: 50 }, async ({ store, twin }) => {
        const user = freshUser();
        const appends = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? store : twin).append(user, newMessage(`c${i}`)));
        const results = await Promise.all(appends);
        expect(results.every((r) => !r.duplicate)).toBe(true);
        const { messages } = await store.load(user);
        expect(messages).toHaveLength(50);
        expect(new Set(messages.map((m) => m.id)).size).toBe(50);
        expect(await store.ttlSeconds(user)).toBeGreaterThan(0);

        // The same id sent concurrently from both clients is stored exactly once.
        const racers = Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? store : twin).append(user, newMessage("race", { id: "race-id" })),
        );
        const raced = await Promise.all(racers);
        expect(raced.filter((r) => !r.duplicate)).toHaveLength(1);
        expect((await store.search(user, { query: "race" })).length).toBe(1);
      }));

    describe("drafts", () => {
      const chunk = (id: string, text: string, role: DraftChunk["role"] = "assistant"): DraftChunk => ({ id, role, chunk: text });
      /** The error code `promise` is refused with. */
      const refusal = async (promise: Promise<unknown>) => {
        const error = await promise.then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(AppError);
        return (error as AppError).code;
      };

      it("grows a draft chunk by chunk, numbering each, outside the kept window; a twin sees it", () =>
        withStore({}, async ({ store, twin }) => {
          const user = freshUser();
          const id = createMessageId();
          await store.append(user, newMessage("question"));
          expect(await store.appendDraft(user, chunk(id, "Hel"))).toMatchObject({ draft: { id, seq: 1, length: 3 } });
          expect((await twin.appendDraft(user, chunk(id, "lo é", "system"))).draft).toEqual({ id, seq: 2, length: 8 });
          const [draft] = await store.drafts(user);
          // A draft keeps the role of its first chunk.
          expect(draft).toMatchObject({ id, role: "assistant", content: "Hello é", seq: 2 });
          expect(Math.abs(draft!.updatedAt - Date.now())).toBeLessThan(5_000);
          const loaded = await twin.load(user);
          expect(loaded.messages.map((m) => m.content)).toEqual(["question"]);
          expect(loaded.drafts).toEqual([draft]);
        }));

      it("ends the draft when its message is stored, and refuses later chunks with DRAFT_CLOSED, changing nothing", () =>
        withStore({}, async ({ store, twin }) => {
          const user = freshUser();
          const id = createMessageId();
          await store.appendDraft(user, chunk(id, "The answer"));
          await twin.append(user, newMessage("The answer is 42", { id, role: "assistant" }));
          expect(await store.drafts(user)).toEqual([]);
          expect(await refusal(store.appendDraft(user, chunk(id, " late")))).toBe("DRAFT_CLOSED");
          expect(await store.drafts(user)).toEqual([]);
          expect((await store.load(user)).messages.map((m) => m.content)).toEqual(["The answer is 42"]);
        }));

      it("refuses a chunk that would take the draft over maxDraftBytes with TOO_LARGE, keeping the draft as it was", () =>
        withStore({ maxDraftBytes: 10 }, async ({ store }) => {
          const user = freshUser();
          const id = createMessageId();
          await store.appendDraft(user, chunk(id, "12345678"));
          expect(await refusal(store.appendDraft(user, chunk(id, "é€")))).toBe("TOO_LARGE");
          expect((await store.appendDraft(user, chunk(id, "é"))).draft).toEqual({ id, seq: 2, length: 10 });
          expect((await store.drafts(user)).map((d) => d.content)).toEqual(["12345678é"]);
        }));

      it("holds at most maxDraftsPerUser live drafts: a new one beyond is TOO_MANY_DRAFTS, the others still grow", () =>
        withStore({ maxDraftsPerUser: 2 }, async ({ store }) => {
          const user = freshUser();
          const [a, b, c] = [createMessageId(), createMessageId(), createMessageId()];
          await store.appendDraft(user, chunk(a, "a"));
          await store.appendDraft(user, chunk(b, "b"));
          expect(await refusal(store.appendDraft(user, chunk(c, "c")))).toBe("TOO_MANY_DRAFTS");
          expect((await store.appendDraft(user, chunk(a, "a"))).draft.seq).toBe(2);
          expect((await store.drafts(user)).map((d) => d.id).sort()).toEqual([a, b].sort());
          // Another user is not counted.
          expect((await store.appendDraft(freshUser(), chunk(c, "c"))).draft.seq).toBe(1);
          expect(await store.discardDraft(user, b)).toMatchObject({ discarded: true });
          expect((await store.appendDraft(user, chunk(c, "c"))).draft.seq).toBe(1);
        }));

      it("discards a live draft once; an unknown id is not discarded", () =>
        withStore({}, async ({ store, twin }) => {
          const user = freshUser();
          const id = createMessageId();
          await store.appendDraft(user, chunk(id, "maybe"));
          expect(await twin.discardDraft(user, id)).toMatchObject({ discarded: true });
          expect(await store.discardDraft(user, id)).toMatchObject({ discarded: false });
          expect(await store.discardDraft(user, createMessageId())).toMatchObject({ discarded: false });
          expect((await store.load(user)).drafts).toEqual([]);
        }));

      it("drops a draft idle for draftIdleMs: gone from reads, not counted, and a new chunk starts it again at 1", () =>
        withStore({ draftIdleMs: 250, maxDraftsPerUser: 1 }, async ({ store }) => {
          const user = freshUser();
          const [idle, next] = [createMessageId(), createMessageId()];
          await store.appendDraft(user, chunk(idle, "abandoned"));
          await store.appendDraft(user, chunk(idle, " reply"));
          await new Promise((resolve) => setTimeout(resolve, 400));
          expect(await store.drafts(user)).toEqual([]);
          expect((await store.load(user)).drafts).toEqual([]);
          expect(await store.discardDraft(user, idle)).toMatchObject({ discarded: false });
          expect((await store.appendDraft(user, chunk(next, "fresh"))).draft.seq).toBe(1);
          await new Promise((resolve) => setTimeout(resolve, 400));
          const again = await store.appendDraft(user, chunk(next, "again"));
          expect(again.draft).toEqual({ id: next, seq: 1, length: 5 });
        }));
    });
  });
}
