/**
 * What a draft chunk costs Redis (appendDraft.lua, PROTOCOL.md §2): the text
 * is a string each chunk APPENDs to, beside small metadata, so a chunk onto a
 * draft of MAX_MESSAGE_BYTES=900000 costs about what one onto an empty draft
 * does. (Decoding and re-encoding the whole draft per chunk cost ~37 ms at
 * 900 KB against ~0.4 ms at 16 KB: one user could hog Redis.) Measured as
 * Redis sees it: `usec_per_call` of EVALSHA in INFO commandstats.
 */
import { describe, expect, it } from "vitest";
import { draftsKey, draftTextKey } from "../../server/src/store/redis-keys.js";
import { freshUser, newMessage } from "../contract/store-contract.js";
import { useSuiteRedisStore } from "../support/suite-redis.js";

const MAX_MESSAGE_BYTES = 900_000;
const MEASURED_CHUNKS = 200;
const suite = useSuiteRedisStore({ maxDraftBytes: MAX_MESSAGE_BYTES, draftIdleMs: 60_000 });

const chunkOf = (id: string, chunk: string) => ({ id, role: "assistant" as const, chunk });

/** Redis's microseconds per EVALSHA while `work` runs (nothing else calls Redis meanwhile). */
async function usecPerCall(work: () => Promise<void>): Promise<number> {
  await suite.admin.config("RESETSTAT");
  await work();
  const stats = await suite.admin.info("commandstats");
  const perCall = /^cmdstat_evalsha:calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/m.exec(stats);
  expect(Number(perCall?.[1])).toBe(MEASURED_CHUNKS);
  return Number(perCall![2]);
}

/** MEASURED_CHUNKS chunks of 10 bytes onto the draft `id` of `user`, one after another. */
async function tenByteChunks(user: string, id: string): Promise<void> {
  for (let i = 0; i < MEASURED_CHUNKS; i++) await suite.store.appendDraft(user, chunkOf(id, "0123456789"));
}

describe("a draft chunk", () => {
  it("costs Redis about the same onto a full draft (~890 KB) as onto an empty one (within 3x)", async () => {
    const small = freshUser();
    await suite.store.appendDraft(small, chunkOf("small-draft", "Hi"));
    const full = freshUser();
    const piece = "x".repeat(8_900);
    for (let i = 0; i < 100; i++) await suite.store.appendDraft(full, chunkOf("full-draft", piece));
    // The metadata stays small whatever the text.
    expect((await suite.admin.hget(draftsKey("temp_memory", full), "full-draft"))!.length).toBeLessThan(100);

    const emptyCost = await usecPerCall(() => tenByteChunks(small, "small-draft"));
    const fullCost = await usecPerCall(() => tenByteChunks(full, "full-draft"));
    console.log(`draft chunk: ${emptyCost} µs per call onto an empty draft, ${fullCost} µs onto a ~890 KB one`);
    expect(fullCost).toBeLessThanOrEqual(3 * emptyCost);
    const drafts = await suite.store.drafts(full);
    expect(drafts.map((draft) => [draft.id, draft.content.length, draft.seq])).toEqual([["full-draft", 892_000, 300]]);
  });

  it("keeps the text in its own key beside the metadata; storing the message and discarding delete both", async () => {
    const user = freshUser();
    await suite.store.appendDraft(user, chunkOf("kept", "Hello"));
    await suite.store.appendDraft(user, chunkOf("kept", ", world"));
    await suite.store.appendDraft(user, chunkOf("dropped", "Bye"));
    const text = draftTextKey("temp_memory", user, "kept");
    expect(text).toBe(`{temp_memory:${user}:messages}:drafts:kept`);
    expect(await suite.admin.get(text)).toBe("Hello, world");
    expect(JSON.parse((await suite.admin.hget(draftsKey("temp_memory", user), "kept"))!)).toEqual({
      role: "assistant",
      seq: 2,
      updatedAt: expect.any(Number),
      length: 12,
    });
    expect(await suite.admin.pttl(text)).toBeGreaterThan(50_000);

    await suite.store.append(user, newMessage("Hello, world!", { id: "kept" }));
    expect(await suite.admin.exists(text, draftTextKey("temp_memory", user, "dropped"))).toBe(1);
    expect((await suite.store.discardDraft(user, "dropped")).discarded).toBe(true);
    expect(await suite.admin.exists(text, draftTextKey("temp_memory", user, "dropped"), draftsKey("temp_memory", user))).toBe(0);
  });

  it("reads a field of the older one-value format, or whose text key another program changed, as dead: the next chunk starts again at 1", async () => {
    const user = freshUser();
    const drafts = draftsKey("temp_memory", user);
    const [seconds] = (await suite.admin.time()) as [string | number, string | number];
    await suite.admin.hset(
      drafts,
      "old",
      JSON.stringify({ role: "assistant", content: "old text", seq: 4, updatedAt: Number(seconds) * 1000 }),
    );
    expect(await suite.store.drafts(user)).toEqual([]);
    await suite.admin.hset(
      drafts,
      "old",
      JSON.stringify({ role: "assistant", content: "old text", seq: 4, updatedAt: Number(seconds) * 1000 }),
    );
    expect((await suite.store.appendDraft(user, chunkOf("old", "new"))).draft).toEqual({ id: "old", seq: 1, length: 3 });

    await suite.store.appendDraft(user, chunkOf("tampered", "abc"));
    await suite.admin.append(draftTextKey("temp_memory", user, "tampered"), "zz");
    expect((await suite.store.drafts(user)).map((draft) => [draft.id, draft.content])).toEqual([["old", "new"]]);
    await suite.store.appendDraft(user, chunkOf("tampered", "abc"));
    await suite.admin.del(draftTextKey("temp_memory", user, "tampered"));
    expect((await suite.store.appendDraft(user, chunkOf("tampered", "xyz"))).draft).toEqual({ id: "tampered", seq: 1, length: 3 });
    expect((await suite.store.drafts(user)).map((draft) => [draft.id, draft.content, draft.seq])).toEqual([
      ["old", "new", 1],
      ["tampered", "xyz", 1],
    ]);
  });
});
