/**
 * Attacks on authentication (PROTOCOL.md §3) beyond the basic refusals of
 * test/integration/auth.test.ts: algorithm confusion (HS256 signed with the
 * public key), `none` in every spelling, keys smuggled in the header (jwk,
 * jku, x5u), kid injection, a flood of unknown kids that must not make the
 * server hammer the JWKS host, the nbf/exp leeway boundaries, and expiry
 * disconnecting within a second of exp plus the leeway.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, nextEvent, request, signToken, TEST_SECRET } from "../support/clients.js";
import { createSigningKey, type JwksServer, type SigningKey, startJwksServer } from "../support/jwks-server.js";
import { startServer, type TestServer } from "../support/servers.js";

const now = () => Math.floor(Date.now() / 1000);
const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function refused(url: string, token: string): Promise<boolean> {
  try {
    (await connect(url, { token })).close();
    return false;
  } catch (error) {
    expect((error as Error).message).toBe("UNAUTHORIZED");
    return true;
  }
}

let jwks: JwksServer;
let key: SigningKey;
let server: TestServer;
/** An attacker's host: any request to it means the server followed a URL from a token header. */
let attacker: Server;
let attackerHits = 0;
let attackerUrl: string;

beforeAll(async () => {
  key = await createSigningKey("key-1", "RS256");
  jwks = await startJwksServer([key]);
  attacker = createServer((_req, res) => {
    attackerHits++;
    res.end("{}");
  });
  await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  server = await startServer({ STORE: "memory", AUTH_JWKS_URL: jwks.url, AUTH_JWT_SECRET: TEST_SECRET });
  // The first good token loads the key set.
  (await connect(server.url, { token: await key.sign({ sub: "alice" }) })).close();
});

afterAll(async () => {
  await server?.close();
  await jwks?.close();
  attacker?.closeAllConnections();
  attacker?.close();
});

describe("forged tokens", () => {
  it("refuses HS256 tokens signed with the RS256 public key (PEM, JWK JSON or modulus as the secret)", async () => {
    const pem = await exportSPKI(
      (await crypto.subtle.importKey("jwk", key.jwk as JsonWebKey, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, [
        "verify",
      ])) as CryptoKey,
    );
    const secrets = [pem, pem.trim(), JSON.stringify(key.jwk), String(key.jwk.n), JSON.stringify(await exportJWK(key.privateKey))];
    for (const secret of secrets) {
      const token = await new SignJWT({ sub: "alice" })
        .setProtectedHeader({ alg: "HS256", kid: key.kid })
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(secret));
      expect(await refused(server.url, token)).toBe(true);
    }
  });

  it.each(["none", "None", "NONE", "nOnE"])("refuses alg %s, with or without a signature", async (alg) => {
    const unsigned = `${encode({ alg, typ: "JWT" })}.${encode({ sub: "alice", exp: now() + 60 })}`;
    expect(await refused(server.url, `${unsigned}.`)).toBe(true);
    expect(await refused(server.url, `${unsigned}.${Buffer.from("sig").toString("base64url")}`)).toBe(true);
  });

  it("refuses keys carried in the token (jwk, jku, x5u) and never fetches them", async () => {
    const rogue = await createSigningKey("rogue", "RS256");
    const headers = [
      { alg: "RS256", kid: "rogue", jwk: rogue.jwk },
      { alg: "RS256", kid: "rogue", jku: `${attackerUrl}/jwks.json` },
      { alg: "RS256", kid: "rogue", x5u: `${attackerUrl}/cert.pem` },
      { alg: "RS256", kid: key.kid, jku: `${attackerUrl}/jwks.json` },
    ];
    for (const header of headers) {
      const token = await new SignJWT({ sub: "alice" }).setProtectedHeader(header).setExpirationTime("1h").sign(rogue.privateKey);
      expect(await refused(server.url, token)).toBe(true);
    }
    expect(attackerHits).toBe(0);
  });

  it("refuses tokens with a crit header it does not understand, and other algorithms", async () => {
    // jose will not sign an unknown crit, so sign by hand: a genuine RS256 signature by the real key.
    const input = `${encode({ alg: "RS256", kid: key.kid, crit: ["exp-v2"], "exp-v2": 1 })}.${encode({ sub: "alice", exp: now() + 3600 })}`;
    const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key.privateKey, new TextEncoder().encode(input));
    expect(await refused(server.url, `${input}.${Buffer.from(signature).toString("base64url")}`)).toBe(true);
    const ps256 = await generateKeyPair("PS256");
    const token = await new SignJWT({ sub: "alice" })
      .setProtectedHeader({ alg: "PS256", kid: key.kid })
      .setExpirationTime("1h")
      .sign(ps256.privateKey);
    expect(await refused(server.url, token)).toBe(true);
  });
});

describe("the JWKS host", () => {
  it("is not hammered by a flood of unknown or injected kids: at most one refetch per cooldown", async () => {
    const before = jwks.requests;
    const rogue = await createSigningKey("rogue", "ES256");
    const kids = [
      ...Array.from({ length: 150 }, (_, i) => `unknown-${i}`),
      "../../../../etc/passwd",
      "' OR '1'='1",
      "x".repeat(5_000),
      "\u0000",
      "__proto__",
      "constructor",
    ];
    const answers = await Promise.all(
      kids.map(async (kid) =>
        refused(
          server.url,
          await new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "ES256", kid }).setExpirationTime("1h").sign(rogue.privateKey),
        ),
      ),
    );
    expect(answers.every(Boolean)).toBe(true);
    expect(jwks.requests - before).toBeLessThanOrEqual(1);
    // A good token still works.
    (await connect(server.url, { token: await key.sign({ sub: "alice" }) })).close();
  });
});

describe("time claims", () => {
  it("honours nbf and exp with exactly 30 s of leeway", async () => {
    const sign = (claims: { nbf?: number; exp: number }) => {
      const jwt = new SignJWT({ sub: "tim" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(claims.exp);
      if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
      return jwt.sign(new TextEncoder().encode(TEST_SECRET));
    };
    expect(await refused(server.url, await sign({ nbf: now() + 20, exp: now() + 3600 }))).toBe(false);
    expect(await refused(server.url, await sign({ nbf: now() + 45, exp: now() + 3600 }))).toBe(true);
    expect(await refused(server.url, await sign({ exp: now() - 20 }))).toBe(false);
    expect(await refused(server.url, await sign({ exp: now() - 45 }))).toBe(true);
  });

  it("emits auth:expired and disconnects within 1 s after exp plus the leeway", async () => {
    const exp = now() - 28;
    const socket = await connect(server.url, { token: await signToken("tim", { expiresAt: exp }) });
    const deadline = (exp + 30) * 1000;
    expect((await request(socket, "history:load")).ok).toBe(true);
    const expired = nextEvent(socket, "auth:expired", 5_000);
    const disconnected = nextEvent(socket, "disconnect", 5_000);
    await expired;
    const expiredAt = Date.now();
    expect(await disconnected).toBe("io server disconnect");
    expect(expiredAt).toBeGreaterThanOrEqual(deadline - 50);
    expect(Date.now() - deadline).toBeLessThan(1_000);
  });
});
