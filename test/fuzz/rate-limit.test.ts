/**
 * The rate limit's second line (README "Abuse"): a connection that keeps
 * sending while it is being refused RATE_LIMITED is disconnected once its
 * refusals exceed the burst; one that waits `retryAfterMs` as told is never
 * disconnected and gets everything stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AckOf,
  type ClientEvent,
  collect,
  connect,
  nextEvent,
  type OkAckOf,
  type PayloadOf,
  request,
  requestRaw,
  type TestSocket,
} from "../support/clients.js";
import { openRaw } from "../support/raw-socket.js";
import { startServer, type TestServer } from "../support/servers.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ STORE: "memory", RATE_LIMIT_PER_SECOND: "20", RATE_LIMIT_BURST: "10" });
});
afterAll(() => server?.close());

/** Sends until accepted, waiting `retryAfterMs` after each RATE_LIMITED; returns the answer and the refusals. */
async function politely<E extends ClientEvent>(
  socket: TestSocket,
  event: E,
  payload: PayloadOf<E>,
): Promise<{ answer: OkAckOf<E>; refusals: number }> {
  for (let refusals = 0; ; refusals++) {
    const answer = await requestRaw<AckOf<ClientEvent>>(socket, event, payload);
    if (answer.ok) return { answer: answer as OkAckOf<E>, refusals };
    expect(answer.error.code).toBe("RATE_LIMITED");
    await new Promise((resolve) => setTimeout(resolve, answer.error.retryAfterMs));
  }
}

const disconnects = async () =>
  Number(/^scrollback_rate_limit_disconnects_total (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);

describe("a connection flooding past its rate limit", () => {
  it("is refused RATE_LIMITED, then disconnected by the server", async () => {
    const flooder = await connect(server.url, { userId: "flooder" });
    const answers: { ok: boolean; error?: { code: string } }[] = [];
    const disconnected = nextEvent(flooder, "disconnect", 5_000);
    // 200 events at once, far beyond 10 + 20/s.
    for (let i = 0; i < 200; i++)
      flooder.emit("message:add", { content: `flood ${i}` }, (answer: { ok: boolean; error?: { code: string } }) => answers.push(answer));
    expect(await disconnected).toBe("io server disconnect");
    expect(answers.filter((answer) => answer.ok).length).toBeLessThanOrEqual(11);
    expect(answers.filter((answer) => answer.error?.code === "RATE_LIMITED").length).toBeGreaterThanOrEqual(10);
    expect(await disconnects()).toBe(1);
  });

  it("while a client that honours retryAfterMs is never disconnected and stores everything", async () => {
    const polite = await connect(server.url, { userId: "polite" });
    const gone = collect(polite, "disconnect");
    let refusals = 0;
    for (let i = 0; i < 60; i++)
      refusals += (await politely(polite, "message:add", { id: `polite-${i}`, content: `polite ${i}` })).refusals;
    expect(refusals).toBeGreaterThan(0);
    expect(gone).toEqual([]);
    const { answer } = await politely(polite, "history:load", {});
    expect(answer.messages.map((message: { id: string }) => message.id)).toEqual(Array.from({ length: 15 }, (_, i) => `polite-${45 + i}`));
    expect(await disconnects()).toBe(1);
    polite.close();
  });
});

/**
 * Connections per user (MAX_CONNECTIONS_PER_USER, default 32 per replica)
 * and one event budget per user: more connections buy no more events.
 */
describe("a user's connections on one replica", () => {
  let shared: TestServer;
  beforeAll(async () => {
    // Refill slow enough (1/s) that the burst is what a test can spend.
    shared = await startServer({ STORE: "memory", RATE_LIMIT_PER_SECOND: "1", RATE_LIMIT_BURST: "10" });
  });
  afterAll(() => shared?.close());

  const refusalOf = (userId: string) =>
    connect(shared.url, { userId }).then(
      (socket) => {
        socket.close();
        throw new Error("the connection was accepted");
      },
      (error: Error & { data?: { code?: string } }) => error,
    );

  it("are at most 32: the 33rd is refused TOO_MANY_CONNECTIONS, other users are not, and a closed one frees a slot", async () => {
    const open: TestSocket[] = [];
    for (let i = 0; i < 32; i++) open.push(await connect(shared.url, { userId: "many_tabs" }));
    for (const socket of open) expect(socket.connected).toBe(true);

    const refused = await refusalOf("many_tabs");
    expect(refused.message).toBe("TOO_MANY_CONNECTIONS");
    expect(refused.data).toMatchObject({ code: "TOO_MANY_CONNECTIONS", message: expect.stringContaining("32") });
    // Refusing did not take a slot either.
    expect((await refusalOf("many_tabs")).data?.code).toBe("TOO_MANY_CONNECTIONS");

    const other = await connect(shared.url, { userId: "someone_else" });
    other.close();

    const gone = nextEvent(open[0]!, "disconnect");
    open[0]!.close();
    await gone;
    // The server learns of the close a moment later.
    let again: TestSocket | undefined;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await connect(shared.url, { userId: "many_tabs" }).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return undefined;
      });
    }
    expect(again?.connected).toBe(true);
    expect((await refusalOf("many_tabs")).data?.code).toBe("TOO_MANY_CONNECTIONS");
    for (const socket of [...open.slice(1), again!]) socket.close();
  });

  it("give a slot back on DISCONNECT, so CONNECT/DISCONNECT cycles on one Engine.IO connection leak none", async () => {
    const raw = await openRaw(shared.url, null);
    for (let cycle = 0; cycle < 40; cycle++) {
      raw.send(`40${JSON.stringify({ userId: "cycler" })}`);
      await raw.next("40{");
      raw.send("41");
      // Socket.IO handles a DISCONNECT on its next tick; a CONNECT arriving before that would close the connection.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    raw.send(`40${JSON.stringify({ userId: "cycler" })}`);
    await raw.next("40{");
    const others: TestSocket[] = [];
    for (let i = 0; i < 31; i++) others.push(await connect(shared.url, { userId: "cycler" }));
    expect((await refusalOf("cycler")).data?.code).toBe("TOO_MANY_CONNECTIONS");
    raw.close();
    await raw.closed;
    let again: TestSocket | undefined;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await connect(shared.url, { userId: "cycler" }).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return undefined;
      });
    }
    expect(again?.connected).toBe(true);
    for (const socket of [...others, again!]) socket.close();
  });

  it("share one token bucket: two connections together get the burst, not twice it", async () => {
    const tabs = [await connect(shared.url, { userId: "two_tabs" }), await connect(shared.url, { userId: "two_tabs" })];
    const answers = await Promise.all(tabs.flatMap((tab) => Array.from({ length: 10 }, () => request(tab, "history:load", {}))));
    // 10 of burst, plus at most one refilled while they were answered.
    expect(answers.filter((answer) => answer.ok).length).toBeLessThanOrEqual(11);
    expect(answers.filter((answer) => (answer.ok ? undefined : answer.error.code) === "RATE_LIMITED").length).toBeGreaterThanOrEqual(9);
    for (const tab of tabs) tab.close();
  });
});

/**
 * The bucket outlives the user's last connection until it has refilled, so
 * reconnecting (a new Engine.IO connection, or CONNECT/DISCONNECT packets on
 * the same one) buys no new burst.
 */
describe("a user reconnecting on one replica", () => {
  let refill: TestServer;
  beforeAll(async () => {
    // A burst of 4 refills in 2 s: slow enough that a reconnect finds it spent, quick enough to wait for.
    refill = await startServer({ STORE: "memory", RATE_LIMIT_PER_SECOND: "2", RATE_LIMIT_BURST: "4" });
  });
  afterAll(() => refill?.close());

  const codeOf = (answer: { ok: boolean; error?: { code: string } }) => (answer.ok ? "ok" : answer.error?.code);

  it("with a new connection finds the bucket spent, and full once it has had time to refill", async () => {
    const first = await connect(refill.url, { userId: "comes_back" });
    const spent = await Promise.all(Array.from({ length: 5 }, () => request(first, "history:load", {})));
    expect(spent.map(codeOf)).toEqual(["ok", "ok", "ok", "ok", "RATE_LIMITED"]);
    const gone = nextEvent(first, "disconnect");
    first.close();
    await gone;
    const again = await connect(refill.url, { userId: "comes_back" });
    expect(codeOf(await request(again, "history:load", {}))).toBe("RATE_LIMITED");
    again.close();
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const later = await connect(refill.url, { userId: "comes_back" });
    const answers = await Promise.all(Array.from({ length: 4 }, () => request(later, "history:load", {})));
    expect(answers.map(codeOf)).toEqual(["ok", "ok", "ok", "ok"]);
    later.close();
  });

  it("with CONNECT/DISCONNECT packets on one Engine.IO connection finds the bucket spent", async () => {
    const raw = await openRaw(refill.url, null);
    const answers: string[] = [];
    for (let cycle = 0; cycle < 3; cycle++) {
      raw.send(`40${JSON.stringify({ userId: "raw_cycler" })}`);
      await raw.next("40{");
      for (let i = 0; i < 4; i++) raw.send(`42${cycle * 10 + i}["history:load",{}]`);
      for (let i = 0; i < 4; i++) answers.push(await raw.next(`43${cycle * 10 + i}[`));
      raw.send("41");
      // Socket.IO handles a DISCONNECT on its next tick.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const ok = answers.filter((answer) => answer.includes('"ok":true')).length;
    // The burst of 4 plus what 2/s refills over the cycles, not 4 a cycle.
    expect(ok).toBeLessThanOrEqual(5);
    expect(answers.filter((answer) => answer.includes('"RATE_LIMITED"')).length).toBe(12 - ok);
    raw.close();
  });
});
