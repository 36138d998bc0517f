/**
 * Who is connecting (PROTOCOL.md §3): a JWT whose `sub` is the userId,
 * verified with an HS256 secret or the keys of a JWKS (RS256/ES256), or in
 * dev mode a plain `userId`. Algorithms are pinned, so `none` and
 * algorithm-confusion tokens are refused.
 */

import { userIdSchema } from "@scrollback/client/protocol/schemas";
import { createRemoteJWKSet, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { AuthConfig } from "../config.js";
import { unauthorized } from "../errors.js";

/** Seconds of clock skew allowed on `exp` and `nbf`. */
export const CLOCK_LEEWAY_SECONDS = 30;

export interface Identity {
  userId: string;
  /** When the connection must end (token `exp` plus the leeway), in ms since the epoch. */
  expiresAt?: number;
}

export type Authenticate = (credentials: unknown) => Promise<Identity>;

const ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"];

/** Builds the function that turns a handshake's `auth` object into an Identity. */
export function createAuthenticator(config: AuthConfig): Authenticate {
  const secret = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;
  // jose caches the JWKS, refetches it when an unknown `kid` appears, and
  // refetches at most once per cooldown, so forged kids cannot hammer the host.
  const jwks = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 })
    : undefined;
  const algorithms = [...(secret ? ["HS256"] : []), ...(jwks ? ASYMMETRIC_ALGORITHMS : [])];
  const getKey: JWTVerifyGetKey = async (header: JWTHeaderParameters, token) => {
    if (header.alg === "HS256" && secret) return secret;
    if (jwks) return jwks(header, token);
    throw unauthorized("token algorithm not accepted");
  };

  async function verifyToken(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms,
        clockTolerance: CLOCK_LEEWAY_SECONDS,
        ...(config.issuer ? { issuer: config.issuer } : {}),
        ...(config.audience ? { audience: config.audience } : {}),
      }));
    } catch {
      throw unauthorized("invalid or expired token");
    }
    const userId = userIdSchema.safeParse(payload.sub);
    if (!userId.success) throw unauthorized("token sub is not a valid userId");
    return {
      userId: userId.data,
      ...(typeof payload.exp === "number" ? { expiresAt: (payload.exp + CLOCK_LEEWAY_SECONDS) * 1000 } : {}),
    };
  }

  return async (credentials) => {
    const auth = (typeof credentials === "object" && credentials !== null ? credentials : {}) as Record<string, unknown>;
    // A token is verified whenever a JWT setting exists. In dev mode without
    // one it cannot be checked, and the userId sent beside it is what counts.
    if (typeof auth.token === "string" && auth.token !== "" && algorithms.length > 0) return verifyToken(auth.token);
    if (config.mode === "dev") {
      const userId = userIdSchema.safeParse(auth.userId);
      if (userId.success) return { userId: userId.data };
      throw unauthorized("dev mode needs auth.userId: 1-128 of A-Z a-z 0-9 _ . @ : -");
    }
    throw unauthorized("missing token");
  };
}
