/**
 * Configuration: one zod schema over the environment (PROTOCOL.md §1).
 * `loadConfig(env)` is pure; main.ts is the only place that reads process.env.
 */

import { META_BYTES_CEILING, roleSchema } from "@scrollback/client/protocol/schemas";
import { z } from "zod";

type Role = z.output<typeof roleSchema>;

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
      const nodes = value
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean);
      const parsed = nodes.map((entry) => {
        const [, host, port] = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry) ?? [];
        return host === undefined ? undefined : { host, port: Number(port) };
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
  for (const entry of value
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean)) {
    const url = URL.canParse(entry) ? new URL(entry) : undefined;
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      ctx.addIssue({ code: "custom", message: `not an origin: ${entry} (expected http(s)://host[:port])` });
      return z.NEVER;
    }
    origins.push(url.origin);
  }
  return origins;
});

/** INBOX_MAXLEN's bounds: below ~100 an approximate trim hardly trims (Redis trims whole nodes of 100 entries). */
const INBOX_MAXLEN_MIN = 100;
const INBOX_MAXLEN_MAX = 10_000_000;
const INBOX_MAXLEN_DEFAULT = 10_000;

/** Each variable on its own. */
const envFields = z.object({
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
  /** TLS to Redis (each a PEM file path; any of them turns TLS on, as `rediss://` does): the CA that signed Redis's certificate… */
  REDIS_TLS_CA_FILE: optionalString,
  /** …and the client certificate and key, for a Redis that asks for one (`tls-auth-clients`); the two come together. */
  REDIS_TLS_CERT_FILE: optionalString,
  REDIS_TLS_KEY_FILE: optionalString,
  /**
   * Opt-in durability: after each add, `WAIT` until this many replicas have
   * it (0: off, the ack means "on the master"); fewer in time → UNAVAILABLE.
   */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  /** How long an add waits for those replicas; within the 2 s store deadline. */
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(1_500).default(1_000),
  /** `redis`, `memory` or `auto`. */
  STORE: z.enum(["auto", "redis", "memory"]).default("auto"),
  /** The Redis Stream every stored message of INBOX_ROLES is appended to (PROTOCOL.md §8); unset: off. */
  INBOX_STREAM: optionalString.pipe(
    z
      .string()
      .regex(/^[^\s]+$/, "must not contain spaces")
      .max(256)
      .optional(),
  ),
  /** Comma-separated roles whose messages enter the inbox. */
  INBOX_ROLES: z
    .string()
    .default("user")
    .transform((value) =>
      value
        .split(",")
        .map((role) => role.trim())
        .filter(Boolean),
    )
    .pipe(z.array(roleSchema).min(1, "must name at least one of user, assistant, system")),
  /** The inbox is trimmed to about this many entries (`XADD … MAXLEN ~`). */
  INBOX_MAXLEN: z.coerce.number().int().min(INBOX_MAXLEN_MIN).max(INBOX_MAXLEN_MAX).default(INBOX_MAXLEN_DEFAULT),
  /** Messages of one user the inbox takes per minute; beyond, the add is RATE_LIMITED (0: no quota). */
  INBOX_USER_PER_MINUTE: z.coerce.number().int().min(0).max(100_000).default(60),
  /** Messages kept per user. */
  HISTORY_MAX: z.coerce.number().int().min(1).max(1000).default(15),
  /** A user's history expires this long after their last write. */
  HISTORY_TTL_SECONDS: z.coerce.number().int().min(1).default(86_400),
  /** First part of every Redis key. */
  KEY_PREFIX: z
    .string()
    .min(1)
    .regex(/^[^\s]+$/, "must not contain spaces")
    // Rooms carry the key as a Cluster hash tag (realtime/rooms.ts): a brace would cut it short.
    .regex(/^[^{}]*$/, "must not contain { or }")
    .default("temp_memory"),
  /** Largest `content` in UTF-8 bytes. */
  MAX_MESSAGE_BYTES: z.coerce.number().int().min(1).max(900_000).default(16_384),
  /** Largest `meta`, in UTF-8 bytes of its JSON (`{}` is 2). */
  MAX_META_BYTES: z.coerce.number().int().min(2).max(META_BYTES_CEILING).default(2_048),
  /** A draft no chunk reached for this long disappears (PROTOCOL.md §4, Drafts). */
  DRAFT_IDLE_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  /** Live drafts one user may have at once. */
  MAX_DRAFTS_PER_USER: z.coerce.number().int().min(1).max(100).default(4),
  /** Draft chunks per user per replica over the HTTP API (a token bucket of one second's worth); 0 turns the limit off. */
  DRAFT_CHUNKS_PER_SECOND: z.coerce.number().min(0).max(10_000).default(50),
  /** `jwt` or `dev`; defaults per PROTOCOL.md §3. */
  AUTH_MODE: optionalString.pipe(z.enum(["jwt", "dev"]).optional()),
  AUTH_JWT_SECRET: optionalString,
  AUTH_JWKS_URL: optionalString.pipe(z.url().optional()),
  AUTH_ISSUER: optionalString,
  AUTH_AUDIENCE: optionalString,
  /** Bearer token of the HTTP API; the API answers 404 when unset. */
  SERVICE_TOKEN: optionalString,
  /** Comma-separated allowed browser origins (pages are served over http or https). */
  CORS_ORIGINS: httpOriginList,
  /** Comma-separated origins of other scrollback servers the demo widget may use (`?server=`); its own is always allowed. */
  WIDGET_SERVERS: httpOriginList,
  /** Client events per user per replica (one token bucket shared by the user's connections); 0 turns the limit off. */
  RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(100),
  /** Connections one user may have open on one replica; the next is refused with TOO_MANY_CONNECTIONS. */
  MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).default(32),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** OpenTelemetry traces: `off`, `otlp` (OTLP over HTTP) or `console`; `1`/`true` mean `otlp`, `0`/`false` `off`. */
  OTEL_TRACING: z.enum(["off", "otlp", "console", "0", "1", "false", "true"]).default("off"),
  /** OTLP base URL; spans go to `<url>/v1/traces` (unset: the exporter's default, http://localhost:4318). */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url().optional()),
  /** `service.name` of the spans. */
  OTEL_SERVICE_NAME: z.string().min(1).default("scrollback"),
  /** The commit this build runs, for the `commit` label of `scrollback_build_info` (a deployment sets it; none by default). */
  SCROLLBACK_COMMIT: optionalString,
  /**
   * `production` turns on the refusals of {@link checkProduction}. Only the
   * usual three values are accepted, so a typo (`Production`, `prod`) stops
   * the start instead of quietly leaving them off.
   */
  NODE_ENV: optionalString.pipe(z.enum(["production", "development", "test"]).optional()),
});

type Env = z.output<typeof envFields>;

/**
 * TLS to Redis: the PEM files of REDIS_TLS_* (read by redis-tls.ts). Present
 * (maybe empty: the system's CAs, no client certificate) whenever TLS is on.
 */
export interface RedisTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Where the store lives; `auto-probe` means "try 127.0.0.1:6379 once, else memory". */
export type RedisTarget = (
  | { kind: "standalone"; url?: string; host: string; port: number; db: number; username?: string; password?: string }
  | { kind: "sentinel"; sentinels: { host: string; port: number }[]; name: string; db: number; username?: string; password?: string }
  | { kind: "cluster"; nodes: { host: string; port: number }[]; username?: string; password?: string }
) & { tls?: RedisTlsFiles };

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
  /** The inbox stream (PROTOCOL.md §8); undefined while it is off (the default). */
  inbox?: InboxConfig;
  maxMessageBytes: number;
  maxMetaBytes: number;
  /** Streamed replies: idle expiry, live drafts per user, HTTP chunks per user per second (0: no limit). */
  drafts: { idleMs: number; maxPerUser: number; chunksPerSecond: number };
  auth: AuthConfig;
  serviceToken?: string;
  corsOrigins?: string[];
  /** Other servers the demo widget may hand the visitor's credentials to; empty: only its own. */
  widgetServers: string[];
  rateLimit: { perSecond: number; burst: number };
  maxConnectionsPerUser: number;
  logLevel: string;
  /** OpenTelemetry tracing; undefined while it is off (the default). */
  tracing?: TracingConfig;
  /** SCROLLBACK_COMMIT: the `commit` label of `scrollback_build_info`, when the deployment says. */
  commit?: string;
}

/** Where stored messages are appended for backends to read (INBOX_STREAM and its companions). */
export interface InboxConfig {
  /** The stream's key, as given (no prefix added). */
  stream: string;
  /** Roles whose messages are appended. */
  roles: readonly Role[];
  /** Approximate cap of the stream (`MAXLEN ~`). */
  maxLen: number;
  /** Messages of one user taken per minute (0: no quota). */
  userPerMinute: number;
}

/** Where spans go (OTEL_TRACING and its companions; tracing.ts starts the exporter). */
export interface TracingConfig {
  /** `otlp`: OTLP over HTTP to `endpoint`; `console`: printed on stdout, for a look on a dev machine. */
  exporter: "otlp" | "console";
  serviceName: string;
  /** OTLP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to `<endpoint>/v1/traces`. */
  endpoint?: string;
}

const REDIS_MODES = ["REDIS_CLUSTER_NODES", "REDIS_SENTINELS", "REDIS_URL"] as const;

/** Shortest AUTH_JWT_SECRET and SERVICE_TOKEN production accepts, in UTF-8 bytes (HS256's key size). */
const MIN_SECRET_BYTES = 32;
/** Placeholders .env.example has shipped: a copy left unedited must not become production's secret. */
const PLACEHOLDER_SECRETS: ReadonlySet<string> = new Set([
  "replace-with-a-long-random-secret-from-openssl-rand",
  "replace-with-another-random-string",
]);

/** `AUTH_MODE`, or its default: `jwt` as soon as any JWT setting says tokens are expected. */
function authMode(e: Env): AuthConfig["mode"] {
  // AUTH_ISSUER or AUTH_AUDIENCE alone also say "tokens are expected": never
  // default to dev mode (anyone may claim any userId) behind them.
  const jwtExpected = Boolean(e.AUTH_JWT_SECRET || e.AUTH_JWKS_URL || e.AUTH_ISSUER || e.AUTH_AUDIENCE);
  return e.AUTH_MODE ?? (jwtExpected ? "jwt" : "dev");
}

/**
 * The rules between variables. They run even when single variables failed
 * (`when` below), so one start reports every problem; a variable that failed
 * its own check still counts as set, so it draws no second complaint.
 */
function checkCombinations(e: Env, ctx: z.RefinementCtx<Env>, given: readonly string[]): void {
  const failed = new Set(ctx.issues.map((issue) => issue.path?.[0]));
  const isSet = (name: keyof Env) => failed.has(name) || e[name] !== undefined;
  const problem = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });

  const redisModes = REDIS_MODES.filter(isSet);
  const [firstMode, ...otherModes] = redisModes;
  if (firstMode !== undefined && otherModes.length > 0)
    problem(firstMode, `set at most one of ${REDIS_MODES.join(", ")} (${redisModes.join(" and ")} are set)`);
  if (isSet("REDIS_SENTINEL_NAME") && !isSet("REDIS_SENTINELS")) problem("REDIS_SENTINELS", "required with REDIS_SENTINEL_NAME");
  if (isSet("REDIS_SENTINELS") && !isSet("REDIS_SENTINEL_NAME")) problem("REDIS_SENTINEL_NAME", "required with REDIS_SENTINELS");
  if (isSet("REDIS_TLS_CERT_FILE") && !isSet("REDIS_TLS_KEY_FILE")) problem("REDIS_TLS_KEY_FILE", "required with REDIS_TLS_CERT_FILE");
  if (isSet("REDIS_TLS_KEY_FILE") && !isSet("REDIS_TLS_CERT_FILE")) problem("REDIS_TLS_CERT_FILE", "required with REDIS_TLS_KEY_FILE");

  if (e.INBOX_STREAM !== undefined && e.STORE === "memory")
    problem("INBOX_STREAM", "needs Redis (the inbox is a Redis Stream): unset it, or do not set STORE=memory");

  if (e.NODE_ENV === "production") checkProduction(e, given, problem);

  const jwtConfigured = isSet("AUTH_JWT_SECRET") || isSet("AUTH_JWKS_URL");
  if (jwtConfigured) return;
  if (e.NODE_ENV === "production") {
    problem("AUTH_JWT_SECRET", "NODE_ENV=production needs AUTH_JWT_SECRET or AUTH_JWKS_URL");
  } else if (!failed.has("AUTH_MODE") && authMode(e) === "jwt") {
    if (e.AUTH_MODE) problem("AUTH_MODE", "jwt needs AUTH_JWT_SECRET or AUTH_JWKS_URL");
    else problem(e.AUTH_ISSUER ? "AUTH_ISSUER" : "AUTH_AUDIENCE", "set, so tokens are expected: needs AUTH_JWT_SECRET or AUTH_JWKS_URL");
  }
}

/**
 * What production refuses on top (PROTOCOL.md §1): settings with which a
 * mistake would open it — dev mode, a weak or placeholder secret, or a
 * memory store per replica that nobody asked for. Secrets are never printed.
 */
function checkProduction(e: Env, given: readonly string[], problem: (variable: string, message: string) => void): void {
  if (e.AUTH_MODE === "dev") problem("AUTH_MODE", "dev is refused under NODE_ENV=production (anyone could claim any userId)");
  for (const variable of ["AUTH_JWT_SECRET", "SERVICE_TOKEN"] as const) {
    const secret = e[variable];
    if (secret === undefined) continue;
    if (PLACEHOLDER_SECRETS.has(secret)) {
      problem(variable, "is the placeholder of .env.example: set a random one (openssl rand -base64 48)");
    } else if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
      problem(variable, `under NODE_ENV=production needs at least ${MIN_SECRET_BYTES} bytes (openssl rand -base64 48)`);
    }
  }
  if (e.STORE === "auto" && !redisConfigured(given)) {
    problem(
      "STORE",
      "auto without any REDIS_* setting under NODE_ENV=production would give each replica its own memory store: set REDIS_URL (or another REDIS_* setting), or STORE=memory if that is meant",
    );
  }
}

/** The validated variables as the server's configuration; `given`: the names of the variables set. */
function toConfig(e: Env, given: string[]): Config {
  return {
    port: e.PORT,
    host: e.HOST,
    store: storeMode(e, given),
    redis: redisTarget(e),
    redisWait: { replicas: e.REDIS_WAIT_REPLICAS, timeoutMs: e.REDIS_WAIT_TIMEOUT_MS },
    historyMax: e.HISTORY_MAX,
    historyTtlSeconds: e.HISTORY_TTL_SECONDS,
    keyPrefix: e.KEY_PREFIX,
    inbox:
      e.INBOX_STREAM === undefined
        ? undefined
        : { stream: e.INBOX_STREAM, roles: e.INBOX_ROLES, maxLen: e.INBOX_MAXLEN, userPerMinute: e.INBOX_USER_PER_MINUTE },
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxMetaBytes: e.MAX_META_BYTES,
    drafts: { idleMs: e.DRAFT_IDLE_MS, maxPerUser: e.MAX_DRAFTS_PER_USER, chunksPerSecond: e.DRAFT_CHUNKS_PER_SECOND },
    auth: { mode: authMode(e), jwtSecret: e.AUTH_JWT_SECRET, jwksUrl: e.AUTH_JWKS_URL, issuer: e.AUTH_ISSUER, audience: e.AUTH_AUDIENCE },
    serviceToken: e.SERVICE_TOKEN,
    corsOrigins: e.CORS_ORIGINS,
    widgetServers: e.WIDGET_SERVERS ?? [],
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
    logLevel: e.LOG_LEVEL,
    tracing: tracing(e),
    commit: e.SCROLLBACK_COMMIT,
  };
}

/** The schema of the environment whose variables are named `given` (the store's rule looks at every REDIS_* name, documented or not). */
const envSchema = (given: readonly string[]) => envFields.superRefine((e, ctx) => checkCombinations(e, ctx, given), { when: () => true });

/** Thrown by {@link loadConfig}; its message has one line per problem, each naming its variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Validates the environment and returns the frozen configuration.
 * @throws {ConfigError} naming every invalid variable and broken combination at once.
 */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  // An empty variable means "not set", as in most tools that read .env files.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""));
  const result = envSchema(Object.keys(given)).safeParse(given);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `invalid configuration: ${issue.path.join(".") || "environment"}: ${issue.message}`,
    );
    throw new ConfigError(problems.join("\n"));
  }
  return Object.freeze(toConfig(result.data, Object.keys(given)));
}

function storeMode(e: Env, given: string[]): Config["store"] {
  if (e.STORE !== "auto") return e.STORE;
  return redisConfigured(given) ? "redis" : "auto-probe";
}

/** Any REDIS_* setting, documented or not, means the operator wants Redis: never fall back silently. */
function redisConfigured(given: readonly string[]): boolean {
  return given.some((name) => name.startsWith("REDIS_"));
}

/** The TLS files, when TLS is on: any REDIS_TLS_* setting, or a `rediss://` REDIS_URL. */
function redisTls(e: Env): RedisTlsFiles | undefined {
  const files = { caFile: e.REDIS_TLS_CA_FILE, certFile: e.REDIS_TLS_CERT_FILE, keyFile: e.REDIS_TLS_KEY_FILE };
  const anyFile = Object.values(files).some((file) => file !== undefined);
  return anyFile || e.REDIS_URL?.startsWith("rediss://") ? files : undefined;
}

function redisTarget(e: Env): RedisTarget {
  const access = { username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD, tls: redisTls(e) };
  if (e.REDIS_CLUSTER_NODES) return { kind: "cluster", nodes: e.REDIS_CLUSTER_NODES, ...access };
  if (e.REDIS_SENTINELS && e.REDIS_SENTINEL_NAME) {
    return { kind: "sentinel", sentinels: e.REDIS_SENTINELS, name: e.REDIS_SENTINEL_NAME, db: e.REDIS_DB ?? 0, ...access };
  }
  return {
    kind: "standalone",
    url: e.REDIS_URL,
    host: e.REDIS_HOST ?? "127.0.0.1",
    port: e.REDIS_PORT ?? 6379,
    db: e.REDIS_DB ?? 0,
    ...access,
  };
}

function tracing(e: Env): TracingConfig | undefined {
  const aliases: Record<string, "off" | "otlp"> = { "0": "off", false: "off", "1": "otlp", true: "otlp" };
  const mode = aliases[e.OTEL_TRACING] ?? (e.OTEL_TRACING as "off" | "otlp" | "console");
  if (mode === "off") return undefined;
  return { exporter: mode, serviceName: e.OTEL_SERVICE_NAME, endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT };
}
