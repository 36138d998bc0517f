/**
 * PROTOCOL.md §7: a `meta` key is at most 64 characters, counted in code
 * points — an emoji is one character, though it is two UTF-16 units.
 */
import { META_MAX_KEY_LENGTH, metaKeyLength } from "@scrollback/client/protocol/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { HistoryService } from "../../server/src/history-service.js";
import { createMetrics } from "../../server/src/metrics.js";
import { MemoryStore } from "../../server/src/store/memory-store.js";

const EMOJI = "\u{1F600}";

describe("metaKeyLength", () => {
  it("counts code points, not UTF-16 units", () => {
    expect(metaKeyLength("k".repeat(64))).toBe(64);
    expect(metaKeyLength(EMOJI.repeat(40))).toBe(40);
    expect(EMOJI.repeat(40).length).toBe(80);
    expect(metaKeyLength("")).toBe(0);
  });
});

describe("the meta key bound on message:add", () => {
  let store: MemoryStore | undefined;
  afterEach(async () => {
    await store?.close();
  });

  // A real service on the memory store; nobody listens to its fan-out here.
  function service(): HistoryService {
    store = new MemoryStore({ historyMax: 100, historyTtlSeconds: 3600 });
    return new HistoryService({
      store,
      metrics: createMetrics(),
      maxMessageBytes: 10_000,
      maxMetaBytes: 65_536,
      broadcaster: { messageAdded: () => {}, historyCleared: () => {}, draftUpdated: () => {}, draftDiscarded: () => {} },
    });
  }

  it.each([
    ["ASCII", "k"],
    ["emoji", EMOJI],
  ])("accepts a key of 64 %s characters and refuses 65 (TOO_LARGE naming meta)", async (_name, character) => {
    const history = service();
    const atBound = character.repeat(META_MAX_KEY_LENGTH);
    const added = await history.add("u", { content: "hi", meta: { [atBound]: 1 } });
    expect(added.message.meta).toEqual({ [atBound]: 1 });
    await expect(history.add("u", { content: "hi", meta: { [character.repeat(META_MAX_KEY_LENGTH + 1)]: 1 } })).rejects.toMatchObject({
      code: "TOO_LARGE",
      message: expect.stringMatching(/^meta: /),
    });
  });
});
