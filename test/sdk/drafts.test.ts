/**
 * Streamed drafts in the SDK (issue 12, "The SDK exposes drafts"): a reply
 * being streamed shows in `snapshot.drafts` and as `draft`/`draftEnd`
 * events, grows in order, is replaced by its stored message (never both in
 * one snapshot), reaches a client that connects mid-reply, goes when
 * discarded or idle; an assistant connected through the SDK streams with
 * `appendDraft`/`discardDraft`. Against real servers.
 */
import { connect, type LiveDraft, type ScrollbackClient, ScrollbackError, type ScrollbackSnapshot } from "@scrollback/client";
import { describe, expect, it } from "vitest";
import { encodeRoomBroadcast } from "../../server/src/realtime/adapter-wire-format.js";
import { STORE_SENDER_UID, userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { userRoom } from "../../server/src/realtime/rooms.js";
import { useSdkFixture } from "../support/sdk-fixture.js";
import { until } from "../support/wait.js";
import { nextClientEvent, waitForStatus } from "./sdk-helpers.js";

const fixture = useSdkFixture();
const serve = fixture.serve;

async function open(url: string | string[], userId: string, backoff = { initialMs: 50, maxMs: 300 }): Promise<ScrollbackClient> {
  const client = fixture.keep(connect(url, { userId, backoff, ackTimeoutMs: 3_000 }));
  await waitForStatus(client, "online");
  return client;
}

/** Every snapshot the client published, each checked as it came: frozen, and no id both a draft and a message. */
function record(client: ScrollbackClient): {
  snapshots: ScrollbackSnapshot[];
  problems: string[];
  until(what: string, check: (s: ScrollbackSnapshot) => boolean): Promise<void>;
} {
  const snapshots = [client.getSnapshot()];
  const problems: string[] = [];
  client.subscribe(() => {
    const snapshot = client.getSnapshot();
    if (!Object.isFrozen(snapshot.drafts) || !snapshot.drafts.every(Object.isFrozen)) problems.push("drafts not frozen");
    const shown = new Set(snapshot.messages.map((message) => message.id));
    const both = snapshot.drafts.filter((draft) => shown.has(draft.id));
    if (both.length > 0) problems.push(`a draft and its message at once: ${both.map((draft) => draft.id)}`);
    snapshots.push(snapshot);
  });
  return {
    snapshots,
    problems,
    until: async (what, check) => {
      await until(what, () => check(client.getSnapshot()), 15_000, 5);
      expect(problems).toEqual([]);
    },
  };
}

/** The contents a draft had, in the order the snapshots showed them (each change once). */
function contentsOf(snapshots: ScrollbackSnapshot[], id: string): string[] {
  const contents: string[] = [];
  for (const snapshot of snapshots) {
    const content = snapshot.drafts.find((draft) => draft.id === id)?.content;
    if (content !== undefined && content !== contents.at(-1)) contents.push(content);
  }
  return contents;
}

describe("drafts in the SDK", () => {
  it("shows another client's streamed reply growing in order, then its stored message in its place", async () => {
    const server = await serve();
    const viewer = await open(server.url, "draft_sdk_user");
    const assistant = await open(server.url, "draft_sdk_user");
    const seen = record(viewer);
    const events: (LiveDraft | string)[] = [];
    viewer.on("draft", (draft) => events.push(draft));
    viewer.on("draftEnd", (id, reason) => events.push(`${id} ${reason}`));
    viewer.on("message", (message) => events.push(`message ${message.id}`));

    const chunks = ["Hel", "lo, ", "wor", "ld", " — ✨"];
    for (const [index, chunk] of chunks.entries()) {
      const state = await assistant.appendDraft("reply-1", chunk);
      expect(state).toEqual({ id: "reply-1", seq: index + 1, length: Buffer.byteLength(chunks.slice(0, index + 1).join("")) });
    }
    const text = chunks.join("");
    await seen.until("the whole draft is shown", (s) => s.drafts[0]?.content === text);
    expect(viewer.getSnapshot().drafts).toEqual([{ id: "reply-1", role: "assistant", content: text, seq: 5 }]);
    // Grown chunk by chunk, in order: every snapshot's text is the one before plus the next chunk.
    expect(contentsOf(seen.snapshots, "reply-1")).toEqual(chunks.map((_, index) => chunks.slice(0, index + 1).join("")));
    // The sender sees its own draft too (the server tells it by the ack alone).
    expect(assistant.getSnapshot().drafts).toEqual([{ id: "reply-1", role: "assistant", content: text, seq: 5 }]);

    const stored = await assistant.add({ id: "reply-1", role: "assistant", content: text });
    await seen.until("the message replaced the draft", (s) => s.drafts.length === 0 && s.messages.length === 1);
    expect(viewer.getSnapshot().messages).toEqual([stored]);
    expect(assistant.getSnapshot()).toMatchObject({ drafts: [], messages: [stored] });
    expect(events.slice(-2)).toEqual(["message reply-1", "reply-1 stored"]);
    expect(events.filter((event) => typeof event !== "string").map((draft) => (draft as LiveDraft).seq)).toEqual([1, 2, 3, 4, 5]);

    // The reply is over: a later chunk is refused, as a ScrollbackError.
    const late = await assistant.appendDraft("reply-1", "more").catch((error: unknown) => error);
    expect(late).toBeInstanceOf(ScrollbackError);
    expect(late).toMatchObject({ code: "DRAFT_CLOSED" });
    expect(viewer.getSnapshot().drafts).toEqual([]);
  });

  it("shows a client that connects mid-reply the text so far, then the rest as it comes", async () => {
    const server = await serve();
    const assistant = await open(server.url, "draft_join_user");
    await assistant.appendDraft("reply-2", "The answer ", { role: "assistant" });
    await assistant.appendDraft("reply-2", "is ");
    const late = await open(server.url, "draft_join_user");
    expect(late.getSnapshot().drafts).toEqual([{ id: "reply-2", role: "assistant", content: "The answer is ", seq: 2 }]);
    const seen = record(late);
    await assistant.appendDraft("reply-2", "42.");
    await seen.until("the next chunk is appended", (s) => s.drafts[0]?.content === "The answer is 42.");
    expect(late.getSnapshot().drafts[0]?.seq).toBe(3);
  });

  it("takes the text so far from the catch-up after a reconnect to another replica", async () => {
    const redis = await fixture.startRedis();
    const env = { STORE: "redis", REDIS_URL: redis.url };
    const [first, second] = [await serve(env), await serve(env)];
    // It waits 0.5–1 s before reconnecting: long enough to miss the chunks below.
    const viewer = await open([first!.url, second!.url], "draft_failover_user", { initialMs: 1_000, maxMs: 1_000 });
    const assistant = await open(second!.url, "draft_failover_user");
    await assistant.appendDraft("reply-3", "one ");
    await until("the viewer has the first chunk", () => viewer.getSnapshot().drafts[0]?.content === "one ", 15_000, 5);
    const offline = waitForStatus(viewer, "offline");
    const closing = first!.close();
    await offline;
    // Chunks the viewer cannot hear: it must take them from its catch-up.
    await assistant.appendDraft("reply-3", "two ");
    await assistant.appendDraft("reply-3", "three ");
    await closing;
    expect(viewer.getSnapshot().drafts[0]?.content).toBe("one ");
    await waitForStatus(viewer, "online");
    expect(viewer.getSnapshot().drafts).toEqual([{ id: "reply-3", role: "assistant", content: "one two three ", seq: 3 }]);
    await assistant.appendDraft("reply-3", "four");
    await until("the viewer appends live again", () => viewer.getSnapshot().drafts[0]?.content === "one two three four", 15_000, 5);
  });

  it("reloads on a gap in seq (an update it never got) and takes the draft from the load", async () => {
    const redis = await fixture.startRedis();
    const server = await serve({ STORE: "redis", REDIS_URL: redis.url });
    const user = "draft_gap_user";
    const viewer = await open(server.url, user);
    const assistant = await open(server.url, user);
    await assistant.appendDraft("reply-7", "a");
    await until("the viewer has seq 1", () => viewer.getSnapshot().drafts[0]?.seq === 1, 15_000, 5);
    // A chunk no connection was told of (as when an update is missed): seq 2 straight into Redis.
    const direct = redis.client();
    const [seconds, micros] = (await direct.time()) as [string | number, string | number];
    const updatedAt = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    // As appendDraft.lua stores a draft: its text beside its metadata (PROTOCOL.md §2).
    await direct.set(`{temp_memory:${user}:messages}:drafts:reply-7`, "ab");
    await direct.hset(
      `{temp_memory:${user}:messages}:drafts`,
      "reply-7",
      JSON.stringify({ role: "assistant", seq: 2, updatedAt, length: 2 }),
    );
    const seen = record(viewer);
    await assistant.appendDraft("reply-7", "c").catch(() => undefined);
    await seen.until("the viewer reloaded the draft", (s) => s.drafts[0]?.content === "abc");
    expect(viewer.getSnapshot().drafts).toEqual([{ id: "reply-7", role: "assistant", content: "abc", seq: 3 }]);
    // Never shown with the chunk appended to the wrong text.
    expect(contentsOf(seen.snapshots, "reply-7")).toEqual(["a", "abc"]);
    await until("the sender reloaded too", () => assistant.getSnapshot().drafts[0]?.content === "abc", 15_000, 5);
  });

  it("keeps drafts through a clear of the history, as the server does", async () => {
    const server = await serve();
    const viewer = await open(server.url, "draft_clear_user");
    const assistant = await open(server.url, "draft_clear_user");
    await viewer.add({ content: "a question" });
    await assistant.appendDraft("reply-8", "an answer in progress");
    await until("the viewer shows the draft", () => viewer.getSnapshot().drafts.length === 1, 15_000, 5);
    const cleared = nextClientEvent(viewer, "cleared");
    expect(await viewer.clear()).toBe(1);
    await cleared;
    expect(viewer.getSnapshot()).toMatchObject({ messages: [], drafts: [{ id: "reply-8", content: "an answer in progress" }] });
    await assistant.appendDraft("reply-8", ", done");
    await until("it grows on", () => viewer.getSnapshot().drafts[0]?.content === "an answer in progress, done", 15_000, 5);
  });

  it("removes a discarded draft everywhere", async () => {
    const server = await serve();
    const viewer = await open(server.url, "draft_discard_user");
    const assistant = await open(server.url, "draft_discard_user");
    await assistant.appendDraft("reply-4", "never mind", { role: "system" });
    await until("the viewer shows it", () => viewer.getSnapshot().drafts.length === 1, 15_000, 5);
    expect(viewer.getSnapshot().drafts[0]?.role).toBe("system");
    const ended = nextClientEvent(viewer, "draftEnd");
    expect(await assistant.discardDraft("reply-4")).toBe(true);
    expect(await ended).toEqual(["reply-4", "discarded"]);
    expect(viewer.getSnapshot().drafts).toEqual([]);
    expect(assistant.getSnapshot().drafts).toEqual([]);
    expect(await assistant.discardDraft("reply-4")).toBe(false);
    await expect(assistant.discardDraft("not an id!")).rejects.toMatchObject({ code: "INVALID_PAYLOAD" });
    await expect(assistant.appendDraft("reply-5", "")).rejects.toMatchObject({ code: "INVALID_PAYLOAD" });
  });

  it("ignores draft:update and draft:discarded payloads of the wrong shape, without throwing, and stays online", async () => {
    const redis = await fixture.startRedis();
    const server = await serve({ STORE: "redis", REDIS_URL: redis.url });
    const userId = "draft_bad_payloads";
    const viewer = await open(server.url, userId);
    const channel = userRoomChannel("temp_memory", userId);
    await until(
      "the replica subscribed to the user's channel",
      async () => ((await redis.client().call("PUBSUB", "SHARDNUMSUB", channel)) as unknown[])[1] === 1,
      5_000,
      20,
    );
    // What a server of another version, or a writer on the channel, could send: the store's layout, a room event, a bad payload.
    const publish = (event: string, payload: unknown) =>
      redis
        .client()
        .spublish(
          channel,
          encodeRoomBroadcast({ uid: STORE_SENDER_UID, room: userRoom("temp_memory", userId), except: [], event, payload }),
        );
    const good = { id: "good-1", role: "assistant", seq: 1, chunk: "fine", idleMs: 30_000 };
    for (const bad of [
      null,
      "x",
      { ...good, id: "not an id!" },
      { ...good, role: "root" },
      { ...good, seq: "1" },
      { ...good, chunk: 5 },
      { ...good, idleMs: -1 },
    ]) {
      await publish("draft:update", bad);
    }
    await publish("draft:discarded", null);
    await publish("draft:discarded", "good-1");
    const shown = nextClientEvent(viewer, "draft");
    await publish("draft:update", good);
    expect(await shown).toEqual([{ id: "good-1", role: "assistant", content: "fine", seq: 1 }]);
    expect(viewer.getSnapshot().drafts.map((draft) => draft.id)).toEqual(["good-1"]);
    expect(viewer.status).toBe("online");
  });

  it("drops a draft no update reached for its idleMs (DRAFT_IDLE_MS), on the client's own clock", async () => {
    const server = await serve({ DRAFT_IDLE_MS: "1000" });
    const viewer = await open(server.url, "draft_idle_user");
    const assistant = await open(server.url, "draft_idle_user");
    const appeared = nextClientEvent(viewer, "draft");
    await assistant.appendDraft("reply-6", "thinking");
    await appeared;
    const shownAt = Date.now();
    expect(viewer.getSnapshot().drafts).toHaveLength(1);
    expect(await nextClientEvent(viewer, "draftEnd", 5_000)).toEqual(["reply-6", "idle"]);
    const idleFor = Date.now() - shownAt;
    expect(idleFor).toBeGreaterThanOrEqual(950);
    expect(idleFor).toBeLessThan(3_000);
    expect(viewer.getSnapshot().drafts).toEqual([]);
  });
});
