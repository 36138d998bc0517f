/**
 * CORS_ORIGINS (PROTOCOL.md §3) under fuzzing and beyond the handshake: any
 * Origin that is not listed, however close to a listed one, is refused with
 * 403 on the polling and the WebSocket handshake; clients without an Origin
 * are not affected; and a session opened from a listed origin cannot be
 * driven from a foreign one (polling requests and the WebSocket upgrade that
 * carry its sid are checked too).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startServer, type TestServer } from "../support/servers.js";

const ALLOWED = ["https://chat.example", "http://localhost:5173"];

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ STORE: "memory", CORS_ORIGINS: ALLOWED.join(",") });
});
afterAll(() => server?.close());

const polling = () => `${server.url}/socket.io/?EIO=4&transport=polling`;

/** Status of a WebSocket handshake: 101 when it upgraded, else the HTTP status it was refused with. */
function websocketStatus(path: string, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}${path}`, origin === undefined ? {} : { origin });
    ws.once("open", () => {
      ws.terminate();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", () => resolve(0));
  });
}

/** Origins near the allowed ones: other schemes, ports, cases, suffixes, userinfo, trailing slashes, "null". */
const foreignOrigin = fc
  .oneof(
    fc.constantFrom(
      "null",
      "https://chat.example.evil",
      "https://evilchat.example",
      "https://chat.example:443",
      "https://chat.example/",
      "http://chat.example",
      "https://CHAT.example",
      "https://chat.example.",
      "https://user@chat.example",
      "http://localhost:5174",
      "http://localhost",
      "https://chat.example,https://evil.example",
    ),
    fc.webUrl({ withQueryParameters: false, withFragments: false }).map((url) => new URL(url).origin),
  )
  .filter((origin) => !ALLOWED.includes(origin));

describe("the handshake", () => {
  it("refuses any unlisted Origin with 403, on polling and WebSocket", async () => {
    await fc.assert(
      fc.asyncProperty(foreignOrigin, async (origin) => {
        expect((await fetch(polling(), { headers: { origin } })).status).toBe(403);
        expect(await websocketStatus("/socket.io/?EIO=4&transport=websocket", origin)).toBe(403);
      }),
      { numRuns: 60 },
    );
  });

  it("accepts the listed origins and requests without an Origin", async () => {
    for (const origin of [...ALLOWED, undefined]) {
      const headers: Record<string, string> = origin ? { origin } : {};
      const response = await fetch(polling(), { headers });
      expect(response.status).toBe(200);
      if (origin) expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      expect(await websocketStatus("/socket.io/?EIO=4&transport=websocket", origin)).toBe(101);
    }
  });
});

describe("a session opened from a listed origin", () => {
  it("refuses polling requests and the WebSocket upgrade that carry its sid from a foreign Origin", async () => {
    const handshake = await (await fetch(polling(), { headers: { origin: ALLOWED[0]! } })).text();
    const { sid } = JSON.parse(handshake.slice(1)) as { sid: string };
    const evil = "https://evil.example";
    expect(
      (await fetch(`${polling()}&sid=${sid}`, { method: "POST", body: '40{"userId":"victim"}', headers: { origin: evil } })).status,
    ).toBe(403);
    expect((await fetch(`${polling()}&sid=${sid}`, { headers: { origin: evil } })).status).toBe(403);
    expect(await websocketStatus(`/socket.io/?EIO=4&transport=websocket&sid=${sid}`, evil)).toBe(403);
    // From its own origin the session works.
    expect(
      (await fetch(`${polling()}&sid=${sid}`, { method: "POST", body: '40{"userId":"victim"}', headers: { origin: ALLOWED[0]! } })).status,
    ).toBe(200);
  });
});
