/**
 * TLS to Redis (PROTOCOL.md §1, REDIS_TLS_*): the PEM files read once and
 * checked at start, and connection errors told in the operator's terms, the
 * setting to look at named.
 */
import { readFileSync } from "node:fs";
import { type ConnectionOptions, createSecureContext } from "node:tls";
import { ConfigError, type RedisTarget, type RedisTlsFiles } from "./config.js";

const SETTINGS = { caFile: "REDIS_TLS_CA_FILE", certFile: "REDIS_TLS_CERT_FILE", keyFile: "REDIS_TLS_KEY_FILE" } as const;

/** Files already read, by path: every connection of a replica shares one read (and the start's check). */
const cache = new Map<string, string>();

function readPem(files: RedisTlsFiles, field: keyof RedisTlsFiles): string | undefined {
  const path = files[field];
  if (path === undefined) return undefined;
  let pem = cache.get(path);
  if (pem === undefined) {
    try {
      pem = readFileSync(path, "utf8");
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new ConfigError(`invalid configuration: ${SETTINGS[field]}: cannot read ${path} (${reason})`);
    }
    if (!pem.includes("-----BEGIN ")) throw new ConfigError(`invalid configuration: ${SETTINGS[field]}: ${path} is not a PEM file`);
    cache.set(path, pem);
  }
  return pem;
}

/**
 * The `tls` options of `target`'s connections (undefined: plain TCP).
 * @throws {ConfigError} naming the setting whose file cannot be read, is not
 * PEM, or (certificate and key) do not belong together.
 */
export function redisTlsOptions(target: RedisTarget): ConnectionOptions | undefined {
  const files = target.tls;
  if (!files) return undefined;
  const options: ConnectionOptions = {};
  const ca = readPem(files, "caFile");
  const cert = readPem(files, "certFile");
  const key = readPem(files, "keyFile");
  if (ca !== undefined) options.ca = ca;
  if (cert !== undefined && key !== undefined) Object.assign(options, { cert, key });
  // One part at a time, so the error names the setting whose file OpenSSL could not use.
  if (ca !== undefined) checkUsable({ ca }, SETTINGS.caFile);
  if (cert !== undefined && key !== undefined) {
    checkUsable({ cert }, SETTINGS.certFile);
    checkUsable({ cert, key }, SETTINGS.keyFile);
  }
  return options;
}

function checkUsable(options: ConnectionOptions, setting: string): void {
  try {
    createSecureContext(options);
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${setting}: ${(error as Error).message}`);
  }
}

/** Node's codes for a server certificate the client does not trust, or that names another host. */
const CERTIFICATE_REJECTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * A Redis connection error as one line for the operator: a rejected server
 * certificate names REDIS_TLS_CA_FILE (the CA that must have signed it, and
 * the host it must name); a handshake Redis refused, or a connection it
 * dropped when no client certificate is set, names REDIS_TLS_CERT_FILE;
 * anything else is the error's own message.
 */
export function describeRedisError(error: Error, target: RedisTarget): string {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  if (CERTIFICATE_REJECTED.has(code)) {
    return `Redis's TLS certificate was refused (${error.message}): REDIS_TLS_CA_FILE must hold the CA that signed it, and it must name the host connected to`;
  }
  if (/alert certificate required|alert bad certificate|alert unknown ca/i.test(error.message)) {
    return `Redis refused the TLS handshake (${error.message}): it asks for a client certificate it trusts, REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE`;
  }
  // Under TLS 1.3 a Redis that wanted a client certificate just drops the connection after the handshake.
  if (code === "ECONNRESET" && target.tls && target.tls.certFile === undefined) {
    return `${error.message} (if Redis asks for client certificates: set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE)`;
  }
  return error.message;
}
