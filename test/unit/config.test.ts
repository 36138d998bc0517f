import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/src/config.js";

/** The ConfigError `loadConfig(env)` throws, as its lines. */
function refusal(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.split("\n");
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  it("gives every setting its documented default", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: "0.0.0.0",
      store: "auto-probe",
      redis: { kind: "standalone", host: "127.0.0.1", port: 6379, db: 0 },
      historyMax: 15,
      historyTtlSeconds: 86_400,
      keyPrefix: "temp_memory",
      maxMessageBytes: 16_384,
      maxMetaBytes: 2_048,
      auth: { mode: "dev" },
      rateLimit: { perSecond: 50, burst: 100 },
      maxConnectionsPerUser: 32,
      logLevel: "info",
    });
    expect(config.serviceToken).toBeUndefined();
    expect(config.corsOrigins).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("reads the original Python app's REDIS_* names and then requires Redis", () => {
    const config = loadConfig({ REDIS_HOST: "redis.example.com", REDIS_PORT: "6380", REDIS_DB: "1", REDIS_PASSWORD: "pw" });
    expect(config.store).toBe("redis");
    expect(config.redis).toEqual({
      kind: "standalone",
      url: undefined,
      host: "redis.example.com",
      port: 6380,
      db: 1,
      username: undefined,
      password: "pw",
    });
  });

  it("parses REDIS_URL, Sentinel and Cluster settings", () => {
    expect(loadConfig({ REDIS_URL: "redis://u:p@h:1/2" }).redis).toMatchObject({ kind: "standalone", url: "redis://u:p@h:1/2" });
    expect(loadConfig({ REDIS_SENTINELS: "a:26379, b:26380", REDIS_SENTINEL_NAME: "mymaster" }).redis).toMatchObject({
      kind: "sentinel",
      name: "mymaster",
      sentinels: [
        { host: "a", port: 26379 },
        { host: "b", port: 26380 },
      ],
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: "127.0.0.1:7000,127.0.0.1:7001" }).redis).toMatchObject({
      kind: "cluster",
      nodes: [
        { host: "127.0.0.1", port: 7000 },
        { host: "127.0.0.1", port: 7001 },
      ],
    });
  });

  it("honours STORE and treats empty variables as unset", () => {
    expect(loadConfig({ STORE: "memory" }).store).toBe("memory");
    expect(loadConfig({ STORE: "redis" }).store).toBe("redis");
    expect(loadConfig({ REDIS_HOST: "", PORT: "" })).toMatchObject({ store: "auto-probe", port: 3000 });
  });

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ HISTORY_MAX: "0" }, "HISTORY_MAX"],
    [{ HISTORY_MAX: "1001" }, "HISTORY_MAX"],
    [{ HISTORY_TTL_SECONDS: "-5" }, "HISTORY_TTL_SECONDS"],
    [{ STORE: "postgres" }, "STORE"],
    [{ REDIS_URL: "http://localhost" }, "REDIS_URL"],
    [{ REDIS_PORT: "99999" }, "REDIS_PORT"],
    [{ REDIS_CLUSTER_NODES: "nohostport" }, "REDIS_CLUSTER_NODES"],
    [{ REDIS_SENTINELS: "a:1" }, "REDIS_SENTINEL_NAME"],
    [{ REDIS_URL: "redis://a:1", REDIS_CLUSTER_NODES: "a:1" }, "REDIS_CLUSTER_NODES"],
    [{ MAX_MESSAGE_BYTES: "lots" }, "MAX_MESSAGE_BYTES"],
    [{ MAX_META_BYTES: "1" }, "MAX_META_BYTES"],
    [{ MAX_META_BYTES: "65537" }, "MAX_META_BYTES"],
    [{ AUTH_MODE: "magic" }, "AUTH_MODE"],
    [{ AUTH_MODE: "jwt" }, "AUTH_MODE"],
    [{ AUTH_JWKS_URL: "not a url" }, "AUTH_JWKS_URL"],
    [{ RATE_LIMIT_PER_SECOND: "-1" }, "RATE_LIMIT_PER_SECOND"],
    [{ MAX_CONNECTIONS_PER_USER: "0" }, "MAX_CONNECTIONS_PER_USER"],
    [{ MAX_CONNECTIONS_PER_USER: "2.5" }, "MAX_CONNECTIONS_PER_USER"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ NODE_ENV: "production", STORE: "memory" }, "AUTH_JWT_SECRET"],
    [{ AUTH_ISSUER: "https://auth.example" }, "AUTH_ISSUER"],
    [{ AUTH_AUDIENCE: "scrollback" }, "AUTH_AUDIENCE"],
    [{ REDIS_SENTINEL_NAME: "mymaster" }, "REDIS_SENTINELS"],
    [{ CORS_ORIGINS: "https://a.example,*" }, "CORS_ORIGINS"],
    [{ CORS_ORIGINS: "ws://a.example" }, "CORS_ORIGINS"],
    [{ WIDGET_SERVERS: "https://a.example,*" }, "WIDGET_SERVERS"],
    [{ WIDGET_SERVERS: "wss://a.example" }, "WIDGET_SERVERS"],
  ])("refuses %o with one line naming %s", (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(variable);
    expect((error as Error).message).not.toContain("\n");
  });

  it("reports every problem at once, one line each naming its variable: unrelated bad values and a broken combination", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "http", HISTORY_MAX: "0", REDIS_URL: "redis://a:1", REDIS_CLUSTER_NODES: "a:1,b:2", NODE_ENV: "production" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as Error).message.split("\n");
    expect(lines).toHaveLength(4);
    for (const variable of ["PORT", "HISTORY_MAX", "REDIS_CLUSTER_NODES", "AUTH_JWT_SECRET"]) {
      expect(
        lines.filter((line) => line.startsWith(`invalid configuration: ${variable}: `)),
        variable,
      ).toHaveLength(1);
    }
    expect(lines.find((line) => line.includes("REDIS_CLUSTER_NODES"))).toContain("REDIS_URL");
  });

  it("counts a variable that failed its own check as set: no second complaint about it", () => {
    expect(() => loadConfig({ REDIS_SENTINELS: "nohostport", REDIS_SENTINEL_NAME: "m" })).toThrow(
      /^invalid configuration: REDIS_SENTINELS: must be host:port,host:port$/,
    );
    expect(() => loadConfig({ NODE_ENV: "production", STORE: "memory", AUTH_JWKS_URL: "not a url" })).toThrow(
      /^invalid configuration: AUTH_JWKS_URL: [^\n]*$/,
    );
  });

  it("refuses braces in KEY_PREFIX (a room's hash tag is the key: realtime/rooms.ts)", () => {
    for (const prefix of ["{app}", "a}b", "x{"])
      expect(() => loadConfig({ KEY_PREFIX: prefix })).toThrow(/^invalid configuration: KEY_PREFIX: must not contain \{ or \}$/);
    expect(loadConfig({ KEY_PREFIX: "app:v2" }).keyPrefix).toBe("app:v2");
  });

  it("uses JWT when a JWT setting is given, and dev only outside production", () => {
    expect(loadConfig({ AUTH_JWT_SECRET: "s" }).auth.mode).toBe("jwt");
    expect(
      loadConfig({ NODE_ENV: "production", REDIS_URL: "redis://redis:6379", AUTH_JWKS_URL: "https://issuer.example/jwks" }).auth.mode,
    ).toBe("jwt");
    expect(loadConfig({ AUTH_JWT_SECRET: "s", AUTH_MODE: "dev" }).auth.mode).toBe("dev");
  });

  it("splits CORS_ORIGINS and normalises each entry to the form browsers send", () => {
    expect(loadConfig({ CORS_ORIGINS: "https://a.example, https://B.example/, http://localhost:3000" }).corsOrigins).toEqual([
      "https://a.example",
      "https://b.example",
      "http://localhost:3000",
    ]);
  });

  it("splits WIDGET_SERVERS into normalised http(s) origins, none by default", () => {
    expect(loadConfig({ WIDGET_SERVERS: "https://Chat.example/, http://10.0.0.2:3000" }).widgetServers).toEqual([
      "https://chat.example",
      "http://10.0.0.2:3000",
    ]);
    expect(loadConfig({}).widgetServers).toEqual([]);
  });

  it("requires Redis when any REDIS_* variable is set, not only the documented ones", () => {
    expect(loadConfig({ REDIS_TLS: "1" }).store).toBe("redis");
  });

  it.each(["Production", "prod", "PRODUCTION", "staging"])(
    "refuses NODE_ENV=%s, so a typo never leaves production's refusals off",
    (value) => {
      expect(() => loadConfig({ NODE_ENV: value, AUTH_MODE: "dev" })).toThrow(/NODE_ENV/);
    },
  );

  describe("under NODE_ENV=production (nothing a mistake would open)", () => {
    const SECRET = "s".repeat(32);
    const production = { NODE_ENV: "production", AUTH_JWT_SECRET: SECRET, REDIS_URL: "redis://redis:6379/0" };
    const FORMER_PLACEHOLDER = "replace-with-a-long-random-secret-from-openssl-rand";

    it("starts with a secret or token of 32 bytes or more and Redis, or with STORE=memory asked for", () => {
      expect(loadConfig(production)).toMatchObject({ store: "redis", auth: { mode: "jwt" } });
      expect(loadConfig({ ...production, SERVICE_TOKEN: "t".repeat(32) }).serviceToken).toBe("t".repeat(32));
      // Counted in UTF-8 bytes: 16 characters of 2 bytes each.
      expect(loadConfig({ ...production, AUTH_JWT_SECRET: "é".repeat(16) }).auth.jwtSecret).toBe("é".repeat(16));
      expect(loadConfig({ ...production, REDIS_URL: undefined, STORE: "memory" }).store).toBe("memory");
      expect(loadConfig({ ...production, REDIS_URL: undefined, REDIS_HOST: "redis" }).store).toBe("redis");
      expect(loadConfig({ ...production, AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: "https://issuer.example/jwks" }).auth.mode).toBe("jwt");
    });

    it.each([
      [{ AUTH_MODE: "dev" }, "AUTH_MODE"],
      [{ AUTH_JWT_SECRET: undefined }, "AUTH_JWT_SECRET"],
      [{ AUTH_JWT_SECRET: "s".repeat(31) }, "AUTH_JWT_SECRET"],
      [{ AUTH_JWT_SECRET: FORMER_PLACEHOLDER }, "AUTH_JWT_SECRET"],
      [{ SERVICE_TOKEN: "t".repeat(31) }, "SERVICE_TOKEN"],
      [{ SERVICE_TOKEN: FORMER_PLACEHOLDER }, "SERVICE_TOKEN"],
      [{ REDIS_URL: undefined }, "STORE"],
      [{ REDIS_URL: undefined, STORE: "auto" }, "STORE"],
    ])("refuses %o with one line naming %s", (change, variable) => {
      const lines = refusal({ ...production, ...change });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^invalid configuration: ${variable}: `));
    });

    it("reports every problem at once, one line each, without printing a secret", () => {
      const lines = refusal({
        NODE_ENV: "production",
        AUTH_MODE: "dev",
        AUTH_JWT_SECRET: "short-secret",
        SERVICE_TOKEN: FORMER_PLACEHOLDER,
      });
      expect(lines.map((line) => line.split(":")[1]!.trim()).sort()).toEqual(["AUTH_JWT_SECRET", "AUTH_MODE", "SERVICE_TOKEN", "STORE"]);
      expect(lines.join("\n")).not.toMatch(/short-secret|replace-with/);
    });

    it("refuses the secret and token .env.example ships, if it ships any", () => {
      const example = parseEnv(readFileSync(new URL("../../.env.example", import.meta.url), "utf8"));
      for (const variable of ["AUTH_JWT_SECRET", "SERVICE_TOKEN"]) {
        const value = example[variable]?.trim();
        if (value) expect(refusal({ ...production, [variable]: value }), variable).toEqual([expect.stringContaining(`${variable}: `)]);
      }
    });

    it("leaves the same settings alone outside production", () => {
      expect(loadConfig({ AUTH_MODE: "dev", AUTH_JWT_SECRET: "short", SERVICE_TOKEN: FORMER_PLACEHOLDER }).store).toBe("auto-probe");
    });
  });
});
