/**
 * JWKS key rotation (PROTOCOL.md §3, AUTH_JWKS_URL): the identity provider
 * replaces its key. The server refetches the key set when a token names a
 * kid it does not know, at most once per 30 s cooldown, so a rotation is
 * picked up within 30 s of the previous fetch, the removed key stops
 * working, and the host sees one request per cooldown however many tokens
 * arrive. Waits out the real cooldown, hence in the chaos suite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../support/clients.js";
import { createSigningKey, type JwksServer, type SigningKey, startJwksServer } from "../support/jwks-server.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

let jwks: JwksServer;
let server: TestServer;
let oldKey: SigningKey;
let newKey: SigningKey;

beforeAll(async () => {
  [oldKey, newKey] = await Promise.all([createSigningKey("2026-11-old"), createSigningKey("2026-11-new")]);
  jwks = await startJwksServer([oldKey]);
  server = await startServer({ STORE: "memory", AUTH_JWKS_URL: jwks.url });
});

afterAll(async () => {
  await server?.close();
  await jwks?.close();
});

async function accepted(key: SigningKey, sub: string): Promise<boolean> {
  try {
    (await connect(server.url, { token: await key.sign({ sub }) })).close();
    return true;
  } catch {
    return false;
  }
}

describe("a JWKS key rotation", () => {
  it("accepts the new kid within the 30 s cooldown, refuses the removed one, and fetches once per cooldown", async () => {
    expect(await accepted(oldKey, "rotating")).toBe(true);
    const firstFetchAt = Date.now();
    expect(jwks.requests).toBe(1);

    jwks.publish([newKey]);
    // Until the cooldown ends, the new kid is unknown and no token makes the server fetch again.
    let attempts = 0;
    await until(
      "the new key is accepted",
      async () => {
        attempts++;
        return accepted(newKey, "rotating");
      },
      40_000,
      500,
    );
    const acceptedAfterMs = Date.now() - firstFetchAt;
    expect(acceptedAfterMs).toBeLessThan(32_000);
    expect(jwks.requests).toBe(2);
    // The removed key now fails, without another fetch (the cooldown just restarted).
    expect(await accepted(oldKey, "rotating")).toBe(false);
    expect(jwks.requests).toBe(2);
    console.info(
      `[JWKS rotation] new kid accepted ${acceptedAfterMs}ms after the previous fetch; ${attempts} tokens tried, ${jwks.requests} JWKS requests in all`,
    );
  }, 60_000);
});
