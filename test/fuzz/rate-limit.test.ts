/**
 * The rate limit's second line (README "Abuse"): a connection that keeps
 * sending while it is being refused RATE_LIMITED is disconnected once its
 * refusals exceed the burst; one that waits `retryAfterMs` as told is never
 * disconnected and gets everything stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, connect, nextEvent, requestRaw, type TestSocket } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ STORE: "memory", RATE_LIMIT_PER_SECOND: "20", RATE_LIMIT_BURST: "10" });
});
afterAll(() => server?.close());

/** Sends until accepted, waiting `retryAfterMs` after each RATE_LIMITED; returns the answer and the refusals. */
async function politely(socket: TestSocket, event: string, payload: unknown): Promise<{ answer: any; refusals: number }> {
  for (let refusals = 0; ; refusals++) {
    const answer = await requestRaw(socket, event, payload);
    if (answer.ok) return { answer, refusals };
    expect(answer.error.code).toBe("RATE_LIMITED");
    await new Promise((resolve) => setTimeout(resolve, answer.error.retryAfterMs));
  }
}

const disconnects = async () => Number(/^scrollback_rate_limit_disconnects_total (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);

describe("a connection flooding past its rate limit", () => {
  it("is refused RATE_LIMITED, then disconnected by the server", async () => {
    const flooder = await connect(server.url, { userId: "flooder" });
    const answers: { ok: boolean; error?: { code: string } }[] = [];
    const disconnected = nextEvent(flooder, "disconnect", 5_000);
    // 200 events at once, far beyond 10 + 20/s.
    for (let i = 0; i < 200; i++) flooder.emit("message:add", { content: `flood ${i}` }, (answer: { ok: boolean; error?: { code: string } }) => answers.push(answer));
    expect(await disconnected).toBe("io server disconnect");
    expect(answers.filter((answer) => answer.ok).length).toBeLessThanOrEqual(11);
    expect(answers.filter((answer) => answer.error?.code === "RATE_LIMITED").length).toBeGreaterThanOrEqual(10);
    expect(await disconnects()).toBe(1);
  });

  it("while a client that honours retryAfterMs is never disconnected and stores everything", async () => {
    const polite = await connect(server.url, { userId: "polite" });
    const gone = collect(polite, "disconnect");
    let refusals = 0;
    for (let i = 0; i < 60; i++) refusals += (await politely(polite, "message:add", { id: `polite-${i}`, content: `polite ${i}` })).refusals;
    expect(refusals).toBeGreaterThan(0);
    expect(gone).toEqual([]);
    const { answer } = await politely(polite, "history:load", {});
    expect(answer.messages.map((message: { id: string }) => message.id)).toEqual(Array.from({ length: 15 }, (_, i) => `polite-${45 + i}`));
    expect(await disconnects()).toBe(1);
    polite.close();
  });
});
