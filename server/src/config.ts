/**
 * Configuration: one zod schema over the environment (PROTOCOL.md §1).
 * `loadConfig(env)` is pure; main.ts is the only place that reads process.env.
 */
import { z } from "zod";
import type { TracingConfig } from "./tracing.js";

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** `host:port,host:port` → [{ host, port }]. */
const hostList = optionalString.pipe(
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const nodes = value.split(",").map((entry) => entry.trim()).filter(Boolean);
      const parsed = nodes.map((entry) => {
        const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
        return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
      });
      if (parsed.length === 0 || parsed.some((node) => node === undefined || node.port > 65535)) {
        ctx.addIssue({ code: "custom", message: "must be host:port,host:port" });
        return z.NEVER;
      }
      return parsed as { host: string; port: number }[];
    }),
);

/** `scheme://host[:port],…` of http(s) origins → each in the form browsers send (a trailing slash or an upper-case host would never match). */
const httpOriginList = optionalString.transform((value, ctx) => {
  if (value === undefined) return undefined;
  const origins: string[] = [];
  for (const entry of value.split(",").map((origin) => origin.trim()).filter(Boolean)) {
    const url = URL.canParse(entry) ? new URL(entry) : undefined;
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      ctx.addIssue({ code: "custom", message: `not an origin: ${entry} (expected http(s)://host[:port])` });
      return z.NEVER;
    }
    origins.push(url.origin);
  }
  return origins;
});

const envSchema = z.object({
  /** Where HTTP and Socket.IO listen. */
  PORT: port(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  /** `redis://[user:pass@]host:port/db` or `rediss://`. */
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
      .pipe(z.url())
      .optional(),
  ),
  /** The original Python app's separate Redis settings. */
  REDIS_HOST: optionalString,
  REDIS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  REDIS_DB: z.coerce.number().int().min(0).optional(),
  REDIS_PASSWORD: optionalString,
  REDIS_USERNAME: optionalString,
  /** Redis through Sentinel. */
  REDIS_SENTINELS: hostList,
  REDIS_SENTINEL_NAME: optionalString,
  /** Redis Cluster seed nodes. */
  REDIS_CLUSTER_NODES: hostList,
  /**
   * Opt-in durability: after each add, `WAIT` until this many replicas have
   * it (0: off, the ack means "on the master"); fewer in time → UNAVAILABLE.
   */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  /** How long an add waits for those replicas; within the 2 s store deadline. */
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(1_500).default(1_000),
  /** `redis`, `memory` or `auto`. */
  STORE: z.enum(["auto", "redis", "memory"]).default("auto"),
  /** Messages kept per user. */
  HISTORY_MAX: z.coerce.number().int().min(1).max(1000).default(15),
  /** A user's history expires this long after their last write. */
  HISTORY_TTL_SECONDS: z.coerce.number().int().min(1).default(86_400),
  /** First part of every Redis key. */
  KEY_PREFIX: z.string().min(1).regex(/^[^\s]+$/, "must not contain spaces").default("temp_memory"),
  /** Largest `content` in UTF-8 bytes. */
  MAX_MESSAGE_BYTES: z.coerce.number().int().min(1).max(900_000).default(16_384),
  /** `jwt` or `dev`; defaults per PROTOCOL.md §3. */
  AUTH_MODE: optionalString.pipe(z.enum(["jwt", "dev"]).optional()),
  AUTH_JWT_SECRET: optionalString,
  AUTH_JWKS_URL: optionalString.pipe(z.url().optional()),
  AUTH_ISSUER: optionalString,
  AUTH_AUDIENCE: optionalString,
  /** Bearer token of the HTTP API; the API answers 404 when unset. */
  SERVICE_TOKEN: optionalString,
  /** Comma-separated allowed browser origins. */
  CORS_ORIGINS: optionalString.transform((value, ctx) => {
    if (value === undefined) return undefined;
    // Browsers send Origin as scheme://host[:port]; normalise each entry to
    // that form (a trailing slash or an upper-case host would never match).
    const origins: string[] = [];
    for (const entry of value.split(",").map((origin) => origin.trim()).filter(Boolean)) {
      const origin = URL.canParse(entry) ? new URL(entry).origin : "null";
      if (origin === "null") {
        ctx.addIssue({ code: "custom", message: `not an origin: ${entry} (expected scheme://host[:port])` });
        return z.NEVER;
      }
      origins.push(origin);
    }
    return origins;
  }),
  /** Comma-separated origins of other scrollback servers the demo widget may use (`?server=`); its own is always allowed. */
  WIDGET_SERVERS: httpOriginList,
  /** Client events per connection (token bucket); 0 turns the limit off. */
  RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(100),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** OpenTelemetry traces: `off`, `otlp` (OTLP over HTTP) or `console`; `1`/`true` mean `otlp`, `0`/`false` `off`. */
  OTEL_TRACING: z.enum(["off", "otlp", "console", "0", "1", "false", "true"]).default("off"),
  /** OTLP base URL; spans go to `<url>/v1/traces` (unset: the exporter's default, http://localhost:4318). */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url().optional()),
  /** `service.name` of the spans. */
  OTEL_SERVICE_NAME: z.string().min(1).default("scrollback"),
  NODE_ENV: optionalString,
});

type Env = z.output<typeof envSchema>;

/** Where the store lives; `auto-probe` means "try 127.0.0.1:6379 once, else memory". */
export type RedisTarget =
  | { kind: "standalone"; url?: string; host: string; port: number; db: number; username?: string; password?: string }
  | { kind: "sentinel"; sentinels: { host: string; port: number }[]; name: string; db: number; username?: string; password?: string }
  | { kind: "cluster"; nodes: { host: string; port: number }[]; username?: string; password?: string };

export interface AuthConfig {
  mode: "jwt" | "dev";
  jwtSecret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

/** The server's whole configuration, validated and frozen. */
export interface Config {
  port: number;
  host: string;
  /** `memory`: embedded store. `redis`: required Redis. `auto-probe`: no REDIS_* given, try the default once. */
  store: "memory" | "redis" | "auto-probe";
  redis: RedisTarget;
  /** Replicas each add must reach before it is acked (`WAIT`); `replicas: 0` turns it off. */
  redisWait: { replicas: number; timeoutMs: number };
  historyMax: number;
  historyTtlSeconds: number;
  keyPrefix: string;
  maxMessageBytes: number;
  auth: AuthConfig;
  serviceToken?: string;
  corsOrigins?: string[];
  /** Other servers the demo widget may hand the visitor's credentials to; empty: only its own. */
  widgetServers: string[];
  rateLimit: { perSecond: number; burst: number };
  logLevel: string;
  production: boolean;
  /** OpenTelemetry tracing; undefined while it is off (the default). */
  tracing?: TracingConfig;
}

/** Thrown by {@link loadConfig}; its message is one line naming every bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Validates the environment and returns the frozen configuration.
 * @throws {ConfigError} naming each invalid variable.
 */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  // An empty variable means "not set", as in most tools that read .env files.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""));
  const result = envSchema.safeParse(given);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "environment"}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const e = result.data;
  const config: Config = {
    port: e.PORT,
    host: e.HOST,
    store: resolveStoreMode(e, given),
    redis: resolveRedisTarget(e),
    redisWait: { replicas: e.REDIS_WAIT_REPLICAS, timeoutMs: e.REDIS_WAIT_TIMEOUT_MS },
    historyMax: e.HISTORY_MAX,
    historyTtlSeconds: e.HISTORY_TTL_SECONDS,
    keyPrefix: e.KEY_PREFIX,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    auth: resolveAuth(e),
    serviceToken: e.SERVICE_TOKEN,
    corsOrigins: e.CORS_ORIGINS,
    widgetServers: e.WIDGET_SERVERS ?? [],
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    logLevel: e.LOG_LEVEL,
    production: e.NODE_ENV === "production",
    tracing: resolveTracing(e),
  };
  return Object.freeze(config);
}

function resolveStoreMode(e: Env, env: Record<string, string | undefined>): Config["store"] {
  if (e.STORE !== "auto") return e.STORE;
  // Any REDIS_* setting means the operator wants Redis: never fall back silently.
  const redisConfigured = Object.keys(env).some((name) => name.startsWith("REDIS_"));
  return redisConfigured ? "redis" : "auto-probe";
}

function resolveRedisTarget(e: Env): RedisTarget {
  const chosen = [e.REDIS_CLUSTER_NODES && "REDIS_CLUSTER_NODES", e.REDIS_SENTINELS && "REDIS_SENTINELS", e.REDIS_URL && "REDIS_URL"].filter(Boolean);
  if (chosen.length > 1) {
    throw new ConfigError(`invalid configuration: ${chosen.join(", ")}: set at most one of REDIS_CLUSTER_NODES, REDIS_SENTINELS, REDIS_URL`);
  }
  if (e.REDIS_SENTINEL_NAME && !e.REDIS_SENTINELS) {
    throw new ConfigError("invalid configuration: REDIS_SENTINELS: required with REDIS_SENTINEL_NAME");
  }
  const credentials = { username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD };
  if (e.REDIS_CLUSTER_NODES) return { kind: "cluster", nodes: e.REDIS_CLUSTER_NODES, ...credentials };
  if (e.REDIS_SENTINELS) {
    if (!e.REDIS_SENTINEL_NAME) {
      throw new ConfigError("invalid configuration: REDIS_SENTINEL_NAME: required with REDIS_SENTINELS");
    }
    return { kind: "sentinel", sentinels: e.REDIS_SENTINELS, name: e.REDIS_SENTINEL_NAME, db: e.REDIS_DB ?? 0, ...credentials };
  }
  return {
    kind: "standalone",
    url: e.REDIS_URL,
    host: e.REDIS_HOST ?? "127.0.0.1",
    port: e.REDIS_PORT ?? 6379,
    db: e.REDIS_DB ?? 0,
    ...credentials,
  };
}

function resolveAuth(e: Env): AuthConfig {
  const jwtConfigured = Boolean(e.AUTH_JWT_SECRET || e.AUTH_JWKS_URL);
  const production = e.NODE_ENV === "production";
  if (production && !jwtConfigured) {
    throw new ConfigError(
      "invalid configuration: AUTH_JWT_SECRET: NODE_ENV=production needs AUTH_JWT_SECRET or AUTH_JWKS_URL",
    );
  }
  // AUTH_ISSUER or AUTH_AUDIENCE alone also say "tokens are expected": never
  // default to dev mode (anyone may claim any userId) behind them.
  const jwtExpected = jwtConfigured || Boolean(e.AUTH_ISSUER || e.AUTH_AUDIENCE);
  const mode = e.AUTH_MODE ?? (jwtExpected ? "jwt" : "dev");
  if (mode === "jwt" && !jwtConfigured) {
    const because = e.AUTH_MODE ? "AUTH_MODE: jwt" : e.AUTH_ISSUER ? "AUTH_ISSUER" : "AUTH_AUDIENCE";
    throw new ConfigError(`invalid configuration: ${because} needs AUTH_JWT_SECRET or AUTH_JWKS_URL`);
  }
  return { mode, jwtSecret: e.AUTH_JWT_SECRET, jwksUrl: e.AUTH_JWKS_URL, issuer: e.AUTH_ISSUER, audience: e.AUTH_AUDIENCE };
}

function resolveTracing(e: Env): TracingConfig | undefined {
  const aliases: Record<string, "off" | "otlp"> = { "0": "off", false: "off", "1": "otlp", true: "otlp" };
  const mode = aliases[e.OTEL_TRACING] ?? (e.OTEL_TRACING as "off" | "otlp" | "console");
  if (mode === "off") return undefined;
  return { exporter: mode, serviceName: e.OTEL_SERVICE_NAME, endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT };
}
