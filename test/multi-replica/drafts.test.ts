/**
 * Drafts (PROTOCOL.md §4 "Drafts", §5): a backend streams a reply over HTTP
 * on one replica while the user's tabs on another see it grow, chunk by
 * chunk and in order; a tab that joins mid-reply gets the text so far; the
 * final add replaces the draft; and every refusal changes nothing. Two
 * replicas on a real redis-server.
 */
import { createMessageId, type DraftUpdate, ERROR_CODES } from "@scrollback/client/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countCommandsByRole } from "../../bench/redis-stats.js";
import { draftsKey } from "../../server/src/store/redis-keys.js";
import { collect, nextEvent, request, requestOk, requestRaw, type TestSocket } from "../support/clients.js";
import { useReplicasOnRedis } from "../support/replicas-on-redis.js";
import { spawnServer, startServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";

const TOKEN = "drafts-test-token";
const MAX_MESSAGE_BYTES = 2_000;
// Long enough that no step of a test on a loaded machine outlasts it, short enough to wait out once.
const IDLE_MS = 3_000;
const fixture = useReplicasOnRedis(2, {
  SERVICE_TOKEN: TOKEN,
  MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
  DRAFT_IDLE_MS: String(IDLE_MS),
  MAX_DRAFTS_PER_USER: "2",
  // The stream below sends as fast as the answers come; the limit has its own test.
  DRAFT_CHUNKS_PER_SECOND: "0",
});

function api(path: string, init: RequestInit & { replica?: number } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${TOKEN}`);
  return fetch(`${fixture.replicas[init.replica ?? 0]!.url}/api/v1${path}`, { ...init, headers });
}

const chunkOver = (user: string, id: string, chunk: string, replica = 0) =>
  api(`/users/${user}/drafts/${id}`, { method: "POST", body: JSON.stringify({ chunk }), replica });

const storeFinal = (user: string, id: string, content: string, replica = 0) =>
  api(`/users/${user}/messages`, { method: "POST", body: JSON.stringify({ id, role: "assistant", content }), replica });

async function draftsOver(user: string, replica = 0) {
  const res = await api(`/users/${user}/drafts`, { replica });
  expect(res.status).toBe(200);
  return ((await res.json()) as { drafts: { id: string; content: string; seq: number }[] }).drafts;
}

/** Resolves once `socket` has received a `draft:update` of seq `seq` for `id`. */
function updateArrival(socket: TestSocket, id: string, seq: number): Promise<void> {
  return new Promise((resolve) => socket.on("draft:update", (update) => update.id === id && update.seq === seq && resolve()));
}

/** The `p`-quantile of `values` (nearest rank). */
function quantile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

describe("a reply streamed over HTTP on replica 1", () => {
  it("reaches a tab on replica 2 chunk by chunk, in order, and a tab on replica 1; delivery latency measured", async () => {
    const user = "drafts_stream";
    const far = await fixture.open(user, 1);
    const near = await fixture.open(user, 0);
    const id = createMessageId();
    const chunks = Array.from({ length: 200 }, (_, i) => `word${i} `);
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    const farUpdates: DraftUpdate[] = [];
    far.on("draft:update", (update) => {
      const sent = sentAt.get(update.seq);
      if (update.id === id && sent !== undefined) latencies.push(performance.now() - sent);
      farUpdates.push(update);
    });
    const nearUpdates = collect(near, "draft:update");
    const lastFar = updateArrival(far, id, chunks.length);
    const lastNear = updateArrival(near, id, chunks.length);

    for (const [i, chunk] of chunks.entries()) {
      sentAt.set(i + 1, performance.now());
      const res = await chunkOver(user, id, chunk);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ draft: { id, seq: i + 1, length: Buffer.byteLength(chunks.slice(0, i + 1).join("")) } });
    }
    await Promise.all([lastFar, lastNear]);

    for (const updates of [farUpdates, nearUpdates]) {
      expect(updates.map((update) => update.seq)).toEqual(chunks.map((_, i) => i + 1));
      expect(updates.map((update) => update.chunk).join("")).toBe(chunks.join(""));
      expect(updates.every((update) => update.id === id && update.role === "assistant" && update.idleMs === IDLE_MS)).toBe(true);
    }
    const worst = latencies
      .map((ms, i) => [i + 1, ms] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([seq, ms]) => `#${seq} ${ms.toFixed(1)} ms`);
    const p99 = quantile(latencies, 0.99);
    const max = Math.max(...latencies);
    console.log(
      `draft:update delivery, HTTP send on replica 1 → tab on replica 2, ${latencies.length} chunks: ` +
        `p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms (slowest: ${worst.join(", ")})`,
    );
    expect(latencies).toHaveLength(chunks.length);
    // The 50 ms is a loopback figure on an idle machine; this one is shared (2 cores, other suites
    // running), so only a generous bound is asserted and the figure printed above.
    expect(p99).toBeLessThan(500);
  });

  it("gives a tab that connects mid-reply the text so far; the final add replaces the draft everywhere", async () => {
    const user = "drafts_join";
    const id = createMessageId();
    for (const chunk of ["Your ", "report ", "is "]) expect((await chunkOver(user, id, chunk)).status).toBe(200);

    const late = await fixture.open(user, 1);
    const loaded = await requestOk(late, "history:load");
    expect(loaded.messages).toEqual([]);
    expect(loaded.drafts).toEqual([{ id, role: "assistant", content: "Your report is ", seq: 3, updatedAt: expect.any(Number) }]);

    const next = nextEvent(late, "draft:update");
    expect((await chunkOver(user, id, "due ", 1)).status).toBe(200);
    expect(await next).toMatchObject({ id, seq: 4, chunk: "due " });

    const replaced = nextEvent(late, "message:new");
    const final = await storeFinal(user, id, "Your report is due Friday.");
    expect(final.status).toBe(201);
    expect(await replaced).toMatchObject({ id, content: "Your report is due Friday." });
    for (const replica of [0, 1]) expect(await draftsOver(user, replica)).toEqual([]);
    const after = await requestOk(late, "history:load");
    expect(after.drafts).toEqual([]);
    expect(after.messages.map((message) => [message.id, message.content])).toEqual([[id, "Your report is due Friday."]]);
  });

  it("refuses chunks after the final message with 409 DRAFT_CLOSED, over HTTP and Socket.IO, changing nothing", async () => {
    const user = "drafts_closed";
    const id = createMessageId();
    const tab = await fixture.open(user, 1);
    expect((await chunkOver(user, id, "Done")).status).toBe(200);
    expect((await storeFinal(user, id, "Done.")).status).toBe(201);
    const updates = collect(tab, "draft:update");

    const late = await chunkOver(user, id, " more", 1);
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe("DRAFT_CLOSED");
    const overSocket = await request(tab, "draft:append", { id, chunk: " more" });
    expect(overSocket).toMatchObject({ ok: false, error: { code: "DRAFT_CLOSED" } });

    expect(await draftsOver(user)).toEqual([]);
    const { messages } = await requestOk(tab, "history:load");
    expect(messages.map((message) => message.content)).toEqual(["Done."]);
    // A retry of the final add is a duplicate, as always.
    expect((await storeFinal(user, id, "Done.")).status).toBe(200);
    // Nothing was published: a later update on the same channel arrives first.
    const other = createMessageId();
    const marker = updateArrival(tab, other, 1);
    await chunkOver(user, other, "x");
    await marker;
    expect(updates.map((update) => update.id)).toEqual([other]);
  });

  it("refuses an oversized chunk, and a chunk that would take the draft over MAX_MESSAGE_BYTES, with 413 TOO_LARGE", async () => {
    const user = "drafts_large";
    const id = createMessageId();
    const alone = await chunkOver(user, id, "x".repeat(MAX_MESSAGE_BYTES + 1));
    expect(alone.status).toBe(413);
    expect(((await alone.json()) as { error: { code: string } }).error.code).toBe("TOO_LARGE");
    expect(await draftsOver(user)).toEqual([]);

    expect((await chunkOver(user, id, "é".repeat(MAX_MESSAGE_BYTES / 2 - 1))).status).toBe(200);
    const over = await chunkOver(user, id, "abc");
    expect(over.status).toBe(413);
    expect((await chunkOver(user, id, "ab")).status).toBe(200);
    const [draft] = await draftsOver(user);
    expect(draft).toMatchObject({ id, seq: 2 });
    expect(Buffer.byteLength(draft!.content)).toBe(MAX_MESSAGE_BYTES);
  });

  it("refuses a third live draft with 409 TOO_MANY_DRAFTS (MAX_DRAFTS_PER_USER=2)", async () => {
    const user = "drafts_many";
    for (const id of ["one", "two"]) expect((await chunkOver(user, id, id)).status).toBe(200);
    const third = await chunkOver(user, "three", "three");
    expect(third.status).toBe(409);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe("TOO_MANY_DRAFTS");
    expect((await draftsOver(user)).map((draft) => draft.id).sort()).toEqual(["one", "two"]);
  });

  it("discards a draft (draft:discarded on every tab); an unknown id is 404 NOT_FOUND over HTTP and discarded: false over Socket.IO", async () => {
    const user = "drafts_discard";
    const id = createMessageId();
    const tab = await fixture.open(user, 1);
    const sender = await fixture.open(user, 0);
    expect((await chunkOver(user, id, "Let me think")).status).toBe(200);

    const unknown = await api(`/users/${user}/drafts/nosuchdraft`, { method: "DELETE" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    expect(await requestOk(sender, "draft:discard", { id: "nosuchdraft" })).toEqual({ ok: true, discarded: false });

    const discarded = nextEvent(tab, "draft:discarded");
    const res = await api(`/users/${user}/drafts/${id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ discarded: true });
    expect(await discarded).toEqual({ id });
    expect(await draftsOver(user, 1)).toEqual([]);

    // Over Socket.IO: the other tabs hear it, the sender has its ack.
    expect((await requestOk(sender, "draft:append", { id: "socketdraft", chunk: "hm" })).draft).toEqual({
      id: "socketdraft",
      seq: 1,
      length: 2,
    });
    const gone = nextEvent(tab, "draft:discarded");
    expect(await requestOk(sender, "draft:discard", { id: "socketdraft" })).toEqual({ ok: true, discarded: true });
    expect(await gone).toEqual({ id: "socketdraft" });
  });

  it("streams over Socket.IO too: the other tabs get each update, the sender only its acks", async () => {
    const user = "drafts_socket";
    const sender = await fixture.open(user, 0);
    const far = await fixture.open(user, 1);
    const echoes = collect(sender, "draft:update");
    const id = createMessageId();
    const arrivals = collect(far, "draft:update");
    const last = updateArrival(far, id, 3);
    for (const [i, chunk] of ["a", "b", "c"].entries()) {
      expect(await requestOk(sender, "draft:append", { id, role: "system", chunk })).toEqual({
        ok: true,
        draft: { id, seq: i + 1, length: i + 1 },
      });
    }
    await last;
    expect(arrivals.map((update) => [update.seq, update.chunk, update.role])).toEqual([
      [1, "a", "system"],
      [2, "b", "system"],
      [3, "c", "system"],
    ]);
    expect(echoes).toEqual([]);
    expect(await request(sender, "draft:append", { id, chunk: "" } as never)).toMatchObject({
      ok: false,
      error: { code: "INVALID_PAYLOAD" },
    });
    expect(await request(sender, "draft:append", { id: "bad id", chunk: "x" })).toMatchObject({
      ok: false,
      error: { code: "INVALID_PAYLOAD" },
    });
  });

  it("costs one command per chunk on the data connection, the publish inside the script", async () => {
    const user = "drafts_one_trip";
    const sender = await fixture.open(user, 0);
    const far = await fixture.open(user, 1);
    const id = createMessageId();
    const chunks = 20;
    const last = updateArrival(far, id, chunks);
    const counts = await countCommandsByRole(fixture.redis.adminUrl, fixture.redis.client(), async () => {
      for (let i = 0; i < chunks; i++) await requestOk(sender, "draft:append", { id, chunk: `c${i}` });
      await last;
    });
    expect(counts.data).toEqual({ evalsha: chunks });
    expect(counts.lua?.spublish).toBe(chunks);
  });

  it("forgets a draft idle for DRAFT_IDLE_MS: gone from loads and GET …/drafts", async () => {
    const user = "drafts_idle";
    const id = createMessageId();
    const tab = await fixture.open(user, 1);
    expect((await chunkOver(user, id, "I will answer")).status).toBe(200);
    expect((await requestOk(tab, "history:load")).drafts.map((draft) => draft.id)).toEqual([id]);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS + 300));
    expect((await requestOk(tab, "history:load")).drafts).toEqual([]);
    expect(await draftsOver(user)).toEqual([]);
    expect(await fixture.redis.client().exists(draftsKey("temp_memory", user))).toBe(0);
  });

  it("starts again at 1 over a field another program wrote with a seq that is no positive safe integer: ack and broadcast carry seq 1", async () => {
    const user = "drafts_foreign_seq";
    const redis = fixture.redis.client();
    const tab = await fixture.open(user, 1);
    for (const seq of [1e20, 1.5, 0, -4, 2 ** 53, "7"]) {
      const id = createMessageId();
      const foreign = { role: "assistant", content: "foreign ", seq, updatedAt: Date.now() };
      await redis.hset(draftsKey("temp_memory", user), id, JSON.stringify(foreign));
      const update = nextEvent(tab, "draft:update");
      const res = await chunkOver(user, id, "fresh");
      expect(res.status).toBe(200);
      expect(((await res.json()) as { draft: { seq: number; length: number } }).draft).toMatchObject({ seq: 1, length: 5 });
      expect(await update).toMatchObject({ id, seq: 1, chunk: "fresh" });
      expect(await draftsOver(user)).toEqual([expect.objectContaining({ id, content: "fresh", seq: 1 })]);
      expect((await chunkOver(user, id, " more")).status).toBe(200);
      expect(await draftsOver(user)).toEqual([expect.objectContaining({ id, content: "fresh more", seq: 2 })]);
      await redis.hdel(draftsKey("temp_memory", user), id);
    }
  });

  it("answers a clear error when the drafts key holds a non-hash, keeps loads and adds working, and stays up", async () => {
    const user = "drafts_wrongtype";
    const redis = fixture.redis.client();
    await redis.set(draftsKey("temp_memory", user), "not a hash");
    const tab = await fixture.open(user, 1);

    const res = await chunkOver(user, "broken", "x");
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("INTERNAL");
    expect(await request(tab, "draft:discard", { id: "broken" })).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    expect(await requestOk(tab, "history:load")).toMatchObject({ messages: [], drafts: [] });
    expect((await storeFinal(user, "broken", "stored all the same")).status).toBe(201);
    expect((await requestOk(tab, "history:load")).messages.map((message) => message.content)).toEqual(["stored all the same"]);
    expect(await redis.get(draftsKey("temp_memory", user))).toBe("not a hash");
    for (const replica of fixture.replicas) expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);

    // A server process logs what the key holds (the client is told only INTERNAL) and carries on.
    const child = await spawnServer({ STORE: "redis", REDIS_URL: fixture.redis.url, SERVICE_TOKEN: TOKEN });
    try {
      await waitReady(child.url);
      const answer = await fetch(`${child.url}/api/v1/users/${user}/drafts/broken`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ chunk: "x" }),
      });
      expect(answer.status).toBe(500);
      expect(await answer.text()).not.toContain("WRONGTYPE");
      await until("the log names the key", () =>
        child.output().includes(`WRONGTYPE the drafts key ${draftsKey("temp_memory", user)} holds a string, not a hash`),
      );
      expect((await fetch(`${child.url}/healthz`)).status).toBe(200);
    } finally {
      await child.stop();
    }
  });
});

describe("anything at all, for the draft events", () => {
  it("acks ok or a documented code, never INTERNAL, and the connection survives", async () => {
    const socket = await fixture.open("drafts_fuzz", 0);
    const codes = new Set<string>(Object.values(ERROR_CODES));
    const payloads = fc.oneof(
      fc.anything(),
      fc.record(
        { id: fc.string({ maxLength: 70 }), chunk: fc.string({ maxLength: 40 }), role: fc.string({ maxLength: 10 }) },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("draft:append", "draft:discard"), payloads, async (event, payload) => {
        const answer = await requestRaw<{ ok: boolean; error?: { code: string } }>(socket, event, payload);
        if (answer.ok) return;
        expect(codes.has(answer.error!.code), JSON.stringify(answer)).toBe(true);
        expect(answer.error!.code).not.toBe("INTERNAL");
      }),
      { numRuns: 300 },
    );
    expect(socket.connected).toBe(true);
  }, 60_000);
});

describe("DRAFT_CHUNKS_PER_SECOND", () => {
  it("bounds HTTP draft chunks per user: beyond one second's worth, 429 RATE_LIMITED with Retry-After, nothing appended", async () => {
    const server = await startServer({ STORE: "memory", SERVICE_TOKEN: TOKEN, DRAFT_CHUNKS_PER_SECOND: "3" });
    try {
      const send = (user: string) =>
        fetch(`${server.url}/api/v1/users/${user}/drafts/limited`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ chunk: "x" }),
        });
      for (let i = 0; i < 3; i++) expect((await send("rate_user")).status).toBe(200);
      const refused = await send("rate_user");
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      const body = (await refused.json()) as { error: { code: string; retryAfterMs: number } };
      expect(body.error.code).toBe("RATE_LIMITED");
      expect(body.error.retryAfterMs).toBeGreaterThan(0);
      // Another user has a bucket of their own.
      expect((await send("rate_other")).status).toBe(200);
      const drafts = await fetch(`${server.url}/api/v1/users/rate_user/drafts`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(((await drafts.json()) as { drafts: { seq: number }[] }).drafts.map((draft) => draft.seq)).toEqual([3]);
    } finally {
      await server.close();
    }
  });
});
