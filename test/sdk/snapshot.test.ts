/**
 * The SDK's snapshot (issue 11, "Framework use"): `getSnapshot()` is one
 * frozen value of what a chat UI shows (messages shown, messages not stored
 * yet with their state, connection status) whose identity changes only when
 * something in it did, and `subscribe` says when. Against real servers.
 */
import { connect, type ScrollbackClient, type ScrollbackSnapshot } from "@scrollback/client";
import { describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { useSdkFixture } from "../support/sdk-fixture.js";
import { until } from "../support/wait.js";
import { ids, waitForStatus } from "./sdk-helpers.js";

const fixture = useSdkFixture();
const serve = fixture.serve;

function open(url: string, userId: string): ScrollbackClient {
  return fixture.keep(connect(url, { userId, backoff: { initialMs: 50, maxMs: 300 }, ackTimeoutMs: 3_000 }));
}

/**
 * Every snapshot the client published, checked as it came: frozen, told only
 * when its identity changed, and no message both pending and shown.
 */
function record(client: ScrollbackClient): {
  snapshots: ScrollbackSnapshot[];
  until(what: string, check: (s: ScrollbackSnapshot) => boolean): Promise<void>;
} {
  const snapshots = [client.getSnapshot()];
  const problems: string[] = [];
  client.subscribe(() => {
    const snapshot = client.getSnapshot();
    if (snapshot === snapshots.at(-1)) problems.push("told of a change, but the snapshot is the same object");
    if (!Object.isFrozen(snapshot) || !Object.isFrozen(snapshot.messages) || !Object.isFrozen(snapshot.pending))
      problems.push("not frozen");
    if (!snapshot.messages.every(Object.isFrozen) || !snapshot.pending.every(Object.isFrozen)) problems.push("an item is not frozen");
    const shown = new Set(ids([...snapshot.messages]));
    const both = snapshot.pending.filter((entry) => shown.has(entry.id));
    if (both.length > 0) problems.push(`pending and shown at once: ${ids(both)}`);
    if (shown.size !== snapshot.messages.length) problems.push("a message shown twice");
    snapshots.push(snapshot);
  });
  return {
    snapshots,
    until: async (what, check) => {
      await until(what, () => check(client.getSnapshot()), 15_000, 10);
      expect(problems).toEqual([]);
    },
  };
}

describe("getSnapshot", () => {
  it("keeps its identity while nothing changes, and is frozen", async () => {
    const server = await serve();
    const client = open(server.url, "snap_stable_user");
    await waitForStatus(client, "online");
    const first = client.getSnapshot();
    expect(first).toEqual({ status: "online", messages: [], drafts: [], pending: [] });
    expect(Object.isFrozen(first) && Object.isFrozen(first.messages) && Object.isFrozen(first.pending)).toBe(true);
    // A load and a search show nothing new: same object.
    await client.load();
    await client.search("anything");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.getSnapshot()).toBe(first);
    expect(client.getSnapshot()).toBe(client.getSnapshot());
    // Bound: usable as passed on (useSyncExternalStore(client.subscribe, client.getSnapshot)).
    const { getSnapshot } = client;
    expect(getSnapshot()).toBe(first);
    expect(() => (first.messages as unknown[]).push(1)).toThrow(TypeError);
  });

  it("shows an add pending, then stored once acked; another tab's message and a clear change it too", async () => {
    const server = await serve();
    const client = open(server.url, "snap_flow_user");
    const other = open(server.url, "snap_flow_user");
    await Promise.all([waitForStatus(client, "online"), waitForStatus(other, "online")]);
    const seen = record(client);
    const before = client.getSnapshot();

    const added = client.add({ id: "snap-1", content: "hello" });
    // At once, before any answer: pending, not shown.
    const pendingNow = client.getSnapshot();
    expect(pendingNow).not.toBe(before);
    expect(pendingNow.pending).toEqual([expect.objectContaining({ id: "snap-1", content: "hello" })]);
    expect(["queued", "sending"]).toContain(pendingNow.pending[0]!.state);
    expect(pendingNow.messages).toEqual([]);
    await added;
    const stored = client.getSnapshot();
    expect(stored.pending).toEqual([]);
    expect(ids([...stored.messages])).toEqual(["snap-1"]);
    expect(stored.messages[0]).toMatchObject({ id: "snap-1", content: "hello", userId: "snap_flow_user", role: "user" });

    await other.add({ id: "snap-2", content: "from another tab" });
    await seen.until("the other tab's message is shown", (s) => s.messages.length === 2);
    expect(ids([...client.getSnapshot().messages])).toEqual(["snap-1", "snap-2"]);

    const full = client.getSnapshot();
    await client.clear();
    await seen.until("the clear empties the view", (s) => s.messages.length === 0);
    expect(client.getSnapshot()).not.toBe(full);
    expect(client.getSnapshot().status).toBe("online");
    // The states it went through: pending (queued or sending) only for snap-1, never after its ack.
    const states = seen.snapshots.flatMap((s) => s.pending.map((entry) => `${entry.id}:${entry.state}`));
    expect(new Set(states).size).toBeGreaterThan(0);
    expect(states.every((state) => /^snap-1:(queued|sending)$/.test(state))).toBe(true);
  });

  it("changes with the connection: offline when the server goes, online and caught up when one is back", async () => {
    const redis = await fixture.startRedis();
    const port = await freePort();
    const env = { STORE: "redis", REDIS_URL: redis.url, PORT: String(port) };
    const server = await serve(env);
    const client = open(server.url, "snap_conn_user");
    await waitForStatus(client, "online");
    await client.add({ id: "conn-1", content: "before" });
    const seen = record(client);
    const online = client.getSnapshot();

    await fixture.closeServer(server);
    await seen.until("the snapshot says the connection is gone", (s) => s.status !== "online");
    expect(client.getSnapshot()).not.toBe(online);
    expect(ids([...client.getSnapshot().messages])).toEqual(["conn-1"]);

    // Sent while nothing answers: queued, shown nowhere else.
    const add = client.add({ id: "conn-2", content: "while down" });
    expect(client.getSnapshot().pending).toEqual([expect.objectContaining({ id: "conn-2", state: "queued" })]);

    // A server again on the same port and Redis: the client catches up and sends.
    await serve(env);
    await add;
    await seen.until("online again with the message stored", (s) => s.status === "online" && s.pending.length === 0);
    expect(ids([...client.getSnapshot().messages])).toEqual(["conn-1", "conn-2"]);
  });

  it("shows a message being sent, then queued with the store's error while it is retried, then stored", async () => {
    const redis = await fixture.startRedis();
    const server = await serve({ STORE: "redis", REDIS_URL: redis.url });
    const client = open(server.url, "snap_retry_user");
    await waitForStatus(client, "online");
    const seen = record(client);
    redis.signal("SIGSTOP");
    let add: Promise<unknown>;
    try {
      add = client.add({ id: "retry-1", content: "while Redis hangs" });
      await seen.until("the add is in flight", (s) => s.pending[0]?.state === "sending");
      await seen.until("the add is queued again with UNAVAILABLE", (s) => s.pending[0]?.error?.code === "UNAVAILABLE");
      expect(client.getSnapshot().pending).toEqual([
        expect.objectContaining({ id: "retry-1", state: expect.stringMatching(/^(queued|sending)$/) }),
      ]);
    } finally {
      redis.signal("SIGCONT");
    }
    await add;
    await seen.until("stored", (s) => s.pending.length === 0 && s.messages.length === 1);
  });

  it("keeps a message refused for good as failed, with its code, until dismissed", async () => {
    const server = await serve({ MAX_MESSAGE_BYTES: "16" });
    const client = open(server.url, "snap_failed_user");
    await waitForStatus(client, "online");
    const seen = record(client);
    await expect(client.add({ id: "too-big", content: "x".repeat(17) })).rejects.toMatchObject({ code: "TOO_LARGE" });
    await client.add({ id: "fits", content: "fits" });
    const snapshot = client.getSnapshot();
    expect(ids([...snapshot.messages])).toEqual(["fits"]);
    expect(snapshot.pending).toEqual([
      { id: "too-big", content: "x".repeat(17), state: "failed", error: { code: "TOO_LARGE", message: expect.any(String) } },
    ]);
    // Still there, same object, until dismissed.
    expect(client.getSnapshot()).toBe(snapshot);
    expect(client.dismiss("no-such-id")).toBe(false);
    expect(client.getSnapshot()).toBe(snapshot);
    expect(client.dismiss("too-big")).toBe(true);
    expect(client.getSnapshot().pending).toEqual([]);
    expect(client.getSnapshot().messages).toBe(snapshot.messages);
    await seen.until("no problem seen", () => true);
  });

  it("after close: offline, and what was not sent shows failed with CLOSED", async () => {
    // Nothing listens there: the add stays queued until the close.
    const client = open(`http://127.0.0.1:${await freePort()}`, "snap_closed_user");
    const add = client.add({ id: "unsent", content: "never sent" });
    expect(client.getSnapshot().pending).toEqual([expect.objectContaining({ id: "unsent", state: "queued" })]);
    client.close();
    await expect(add).rejects.toMatchObject({ code: "CLOSED" });
    expect(client.getSnapshot()).toMatchObject({
      status: "offline",
      messages: [],
      pending: [expect.objectContaining({ id: "unsent", state: "failed", error: expect.objectContaining({ code: "CLOSED" }) })],
    });
  });

  it("keeps an add given up (timeoutMs) as failed with TIMEOUT, and an aborted one with ABORTED, until dismissed", async () => {
    // Nothing listens there: the adds stay queued until given up.
    const client = open(`http://127.0.0.1:${await freePort()}`, "snap_given_up_user");
    await expect(client.add({ id: "late", content: "too late" }, { timeoutMs: 100 })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(client.getSnapshot().pending).toEqual([
      { id: "late", content: "too late", state: "failed", error: { code: "TIMEOUT", message: expect.any(String) } },
    ]);
    const controller = new AbortController();
    const aborted = client.add({ id: "dropped", content: "never mind" }, { signal: controller.signal });
    controller.abort(new Error("the user went away"));
    await expect(aborted).rejects.toThrow("the user went away");
    expect(client.getSnapshot().pending).toEqual([
      expect.objectContaining({ id: "late", state: "failed" }),
      {
        id: "dropped",
        content: "never mind",
        state: "failed",
        error: { code: "ABORTED", message: expect.stringContaining("the user went away") },
      },
    ]);
    expect(client.pending).toEqual([]);
    expect(client.dismiss("late")).toBe(true);
    expect(client.dismiss("dropped")).toBe(true);
    expect(client.getSnapshot().pending).toEqual([]);
  });

  it("shows a loaded window that holds an id twice (written by another program) once, the first", async () => {
    const redis = await fixture.startRedis();
    const user = "snap_dup_user";
    const element = (id: string, content: string) => JSON.stringify({ id, role: "user", content, timestamp: null });
    await redis
      .client()
      .rpush(`temp_memory:${user}:messages`, element("dup-1", "first"), element("other", "between"), element("dup-1", "again"));
    const server = await serve({ STORE: "redis", REDIS_URL: redis.url });
    const client = open(server.url, user);
    const seen = record(client);
    await seen.until("the window is shown", (s) => s.status === "online" && s.messages.length > 0);
    expect(client.getSnapshot().messages.map((message) => [message.id, message.content])).toEqual([
      ["dup-1", "first"],
      ["other", "between"],
    ]);
  });

  it("stops telling a listener once it unsubscribed", async () => {
    const server = await serve();
    const client = open(server.url, "snap_unsub_user");
    await waitForStatus(client, "online");
    let calls = 0;
    const stop = client.subscribe(() => calls++);
    await client.add({ content: "one" });
    const counted = calls;
    expect(counted).toBeGreaterThan(0);
    stop();
    await client.add({ content: "two" });
    expect(calls).toBe(counted);
    expect(client.getSnapshot().messages.map((message) => message.content)).toEqual(["one", "two"]);
  });
});
