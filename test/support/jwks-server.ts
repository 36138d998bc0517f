/**
 * A JWKS host on loopback for auth tests: serves whatever key set the test
 * sets, and counts the requests it gets (so a test can prove the server does
 * not hammer it).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";

export interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  /** The public JWK as published, `kid`, `alg` and `use` included. */
  jwk: Record<string, unknown>;
  /** Signs `claims` (sub, exp, …) with this key, `kid` in the header. */
  sign(claims: JWTPayload): Promise<string>;
}

/** A fresh key pair named `kid`. */
export async function createSigningKey(kid: string, alg: "RS256" | "ES256" = "ES256"): Promise<SigningKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" };
  return {
    kid,
    alg,
    privateKey: pair.privateKey,
    jwk,
    sign: (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg, kid })
        .setIssuedAt()
        .setExpirationTime(claims.exp ?? "1h")
        .sign(pair.privateKey),
  };
}

export interface JwksServer {
  url: string;
  /** Requests served so far. */
  readonly requests: number;
  /** Replaces the published keys. */
  publish(keys: SigningKey[]): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[]): Promise<JwksServer> {
  let published = keys;
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: published.map((key) => key.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    publish(next) {
      published = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
