/**
 * Drafts another program wrote into a user's drafts hash (PROTOCOL.md §2):
 * the hash sits in Redis where anything may be written, and every
 * `history:load` answers it (readDrafts.lua), so what a load answers is
 * bounded whatever the hash holds: at most MAX_DRAFTS_PER_USER drafts, each
 * well-formed and at most MAX_MESSAGE_BYTES long.
 */
import { describe, expect, it } from "vitest";
import { draftsKey, draftTextKey } from "../../server/src/store/redis-keys.js";
import { freshUser } from "../contract/store-contract.js";
import { useSuiteRedisStore } from "../support/suite-redis.js";

const MAX_DRAFTS = 3;
const MAX_BYTES = 100;
const suite = useSuiteRedisStore({ maxDraftsPerUser: MAX_DRAFTS, maxDraftBytes: MAX_BYTES, draftIdleMs: 60_000 });

/** Redis's clock in ms, which drafts' `updatedAt` is counted in. */
async function redisNow(): Promise<number> {
  const [seconds, micros] = (await suite.admin.time()) as [string | number, string | number];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Writes a draft field as appendDraft.lua would, with `meta` (raw JSON) as its value and `text` beside it. */
async function writeForeignDraft(user: string, field: string, meta: string, text: string): Promise<void> {
  await suite.admin.hset(draftsKey("temp_memory", user), field, meta);
  await suite.admin.set(draftTextKey("temp_memory", user, field), text);
}

const metaOf = (updatedAt: number | string, text: string, role = "assistant") =>
  `{"role":"${role}","seq":1,"updatedAt":${updatedAt},"length":${Buffer.byteLength(text)}}`;

describe("a drafts hash another program wrote", () => {
  it("answers at most MAX_DRAFTS_PER_USER drafts however many live fields it holds: the most recently grown, the others kept", async () => {
    const user = freshUser();
    const now = await redisNow();
    for (let i = 0; i < 50; i++) await writeForeignDraft(user, `draft-${i}`, metaOf(now - 1_000 + i, `text ${i}`), `text ${i}`);
    const newest = ["draft-47", "draft-48", "draft-49"];

    const loaded = await suite.store.load(user);
    expect(loaded.drafts.map((draft) => draft.id)).toEqual(newest);
    expect(loaded.drafts.map((draft) => draft.content)).toEqual(["text 47", "text 48", "text 49"]);
    expect((await suite.store.drafts(user)).map((draft) => draft.id)).toEqual(newest);
    // Live, only not answered: a reader deletes none of them.
    expect(await suite.admin.hlen(draftsKey("temp_memory", user))).toBe(50);
  });

  it("leaves out a draft longer than MAX_MESSAGE_BYTES (still live: it counts for TOO_MANY_DRAFTS)", async () => {
    const user = freshUser();
    const now = await redisNow();
    await writeForeignDraft(user, "good", metaOf(now, "fine"), "fine");
    await writeForeignDraft(user, "huge", metaOf(now, "x".repeat(MAX_BYTES + 1)), "x".repeat(MAX_BYTES + 1));
    expect((await suite.store.load(user)).drafts.map((draft) => [draft.id, draft.content])).toEqual([["good", "fine"]]);
    expect((await suite.admin.hkeys(draftsKey("temp_memory", user))).sort()).toEqual(["good", "huge"]);
    await suite.store.appendDraft(user, { id: "another", role: "assistant", chunk: "hi" });
    await expect(suite.store.appendDraft(user, { id: "third", role: "assistant", chunk: "hi" })).rejects.toMatchObject({
      code: "TOO_MANY_DRAFTS",
    });
  });

  it("reads a field named by no message id, or of a role none of the three, as dead: left out and deleted", async () => {
    const user = freshUser();
    const now = await redisNow();
    await writeForeignDraft(user, "good", metaOf(now, "fine"), "fine");
    await writeForeignDraft(user, "not an id", metaOf(now, "a"), "a");
    await writeForeignDraft(user, "x".repeat(65), metaOf(now, "b"), "b");
    await writeForeignDraft(user, "wizard", metaOf(now, "c", "wizard"), "c");
    expect((await suite.store.load(user)).drafts.map((draft) => draft.id)).toEqual(["good"]);
    expect(await suite.admin.hkeys(draftsKey("temp_memory", user))).toEqual(["good"]);
  });

  it("still loads over an updatedAt that is no whole count of ms (1e999, NaN: cjson reads them, never idle, and cannot write them back)", async () => {
    const user = freshUser();
    const now = await redisNow();
    await writeForeignDraft(user, "good", metaOf(now, "fine"), "fine");
    await writeForeignDraft(user, "forever", metaOf("1e999", "d"), "d");
    await writeForeignDraft(user, "nan", metaOf("NaN", "e"), "e");
    expect((await suite.store.load(user)).drafts.map((draft) => draft.id)).toEqual(["good"]);
    expect(await suite.admin.hkeys(draftsKey("temp_memory", user))).toEqual(["good"]);
  });

  it("discards a field readers count dead as no live draft (discarded: false, PROTOCOL.md §4), deleting it all the same", async () => {
    const user = freshUser();
    const now = await redisNow();
    const dead: [id: string, meta: string, text: string][] = [
      ["wizard", metaOf(now, "c", "wizard"), "c"],
      ["forever", metaOf("1e999", "d"), "d"],
      ["short", metaOf(now, "the whole text"), "the"],
      ["empty", metaOf(now, ""), ""],
    ];
    for (const [id, meta, text] of dead) {
      await writeForeignDraft(user, id, meta, text);
      expect({ id, ...(await suite.store.discardDraft(user, id)) }).toEqual({ id, discarded: false, announced: false });
      expect(await suite.admin.hexists(draftsKey("temp_memory", user), id)).toBe(0);
      expect(await suite.admin.exists(draftTextKey("temp_memory", user, id))).toBe(0);
    }
  });

  it("reads a field dated more than DRAFT_IDLE_MS ahead of Redis's clock as dead: it would never go idle and would hold the user's places", async () => {
    const user = freshUser();
    const now = await redisNow();
    const decade = 10 * 365 * 86_400_000;
    for (let i = 0; i < MAX_DRAFTS; i++) await writeForeignDraft(user, `future-${i}`, metaOf(now + decade, "x"), "x");
    await writeForeignDraft(user, "soon", metaOf(now + 1_000, "y"), "y");
    expect((await suite.store.load(user)).drafts.map((draft) => draft.id)).toEqual(["soon"]);
    expect(await suite.admin.hkeys(draftsKey("temp_memory", user))).toEqual(["soon"]);
    for (let i = 0; i < MAX_DRAFTS; i++) await writeForeignDraft(user, `future-${i}`, metaOf(now + decade, "x"), "x");
    await suite.store.appendDraft(user, { id: "mine", role: "assistant", chunk: "hi" });
    expect((await suite.store.drafts(user)).map((draft) => draft.id).sort()).toEqual(["mine", "soon"]);
  });
});
