import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/src/config.js";

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
    expect(config.redis).toEqual({ kind: "standalone", url: undefined, host: "redis.example.com", port: 6380, db: 1, username: undefined, password: "pw" });
  });

  it("parses REDIS_URL, Sentinel and Cluster settings", () => {
    expect(loadConfig({ REDIS_URL: "redis://u:p@h:1/2" }).redis).toMatchObject({ kind: "standalone", url: "redis://u:p@h:1/2" });
    expect(loadConfig({ REDIS_SENTINELS: "a:26379, b:26380", REDIS_SENTINEL_NAME: "mymaster" }).redis).toMatchObject({
      kind: "sentinel",
      name: "mymaster",
      sentinels: [{ host: "a", port: 26379 }, { host: "b", port: 26380 }],
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: "127.0.0.1:7000,127.0.0.1:7001" }).redis).toMatchObject({
      kind: "cluster",
      nodes: [{ host: "127.0.0.1", port: 7000 }, { host: "127.0.0.1", port: 7001 }],
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
    [{ AUTH_MODE: "magic" }, "AUTH_MODE"],
    [{ AUTH_MODE: "jwt" }, "AUTH_MODE"],
    [{ AUTH_JWKS_URL: "not a url" }, "AUTH_JWKS_URL"],
    [{ RATE_LIMIT_PER_SECOND: "-1" }, "RATE_LIMIT_PER_SECOND"],
    [{ MAX_CONNECTIONS_PER_USER: "0" }, "MAX_CONNECTIONS_PER_USER"],
    [{ MAX_CONNECTIONS_PER_USER: "2.5" }, "MAX_CONNECTIONS_PER_USER"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ NODE_ENV: "production" }, "AUTH_JWT_SECRET"],
    [{ AUTH_ISSUER: "https://auth.example" }, "AUTH_ISSUER"],
    [{ AUTH_AUDIENCE: "scrollback" }, "AUTH_AUDIENCE"],
    [{ REDIS_SENTINEL_NAME: "mymaster" }, "REDIS_SENTINELS"],
    [{ CORS_ORIGINS: "https://a.example,*" }, "CORS_ORIGINS"],
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
      expect(lines.filter((line) => line.startsWith(`invalid configuration: ${variable}: `)), variable).toHaveLength(1);
    }
    expect(lines.find((line) => line.includes("REDIS_CLUSTER_NODES"))).toContain("REDIS_URL");
  });

  it("counts a variable that failed its own check as set: no second complaint about it", () => {
    expect(() => loadConfig({ REDIS_SENTINELS: "nohostport", REDIS_SENTINEL_NAME: "m" })).toThrow(/^invalid configuration: REDIS_SENTINELS: must be host:port,host:port$/);
    expect(() => loadConfig({ NODE_ENV: "production", AUTH_JWKS_URL: "not a url" })).toThrow(/^invalid configuration: AUTH_JWKS_URL: [^\n]*$/);
  });

  it("refuses braces in KEY_PREFIX (a room's hash tag is the key: realtime/rooms.ts)", () => {
    for (const prefix of ["{app}", "a}b", "x{"]) expect(() => loadConfig({ KEY_PREFIX: prefix })).toThrow(/^invalid configuration: KEY_PREFIX: must not contain \{ or \}$/);
    expect(loadConfig({ KEY_PREFIX: "app:v2" }).keyPrefix).toBe("app:v2");
  });

  it("uses JWT when a JWT setting is given, and dev only outside production", () => {
    expect(loadConfig({ AUTH_JWT_SECRET: "s" }).auth.mode).toBe("jwt");
    expect(loadConfig({ NODE_ENV: "production", AUTH_JWKS_URL: "https://issuer.example/jwks" }).auth.mode).toBe("jwt");
    expect(loadConfig({ AUTH_JWT_SECRET: "s", AUTH_MODE: "dev" }).auth.mode).toBe("dev");
  });

  it("splits CORS_ORIGINS and normalises each entry to the form browsers send", () => {
    expect(loadConfig({ CORS_ORIGINS: "https://a.example, https://B.example/, http://localhost:3000" }).corsOrigins).toEqual([
      "https://a.example",
      "https://b.example",
      "http://localhost:3000",
    ]);
  });

  it("requires Redis when any REDIS_* variable is set, not only the documented ones", () => {
    expect(loadConfig({ REDIS_TLS: "1" }).store).toBe("redis");
  });
});
