/** INBOX_STREAM, INBOX_ROLES, INBOX_MAXLEN (PROTOCOL.md §1, §8). */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/src/config.js";

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe("the inbox settings", () => {
  it("are off by default", () => {
    expect(loadConfig({}).inbox).toBeUndefined();
    expect(loadConfig({ INBOX_STREAM: " " }).inbox).toBeUndefined();
  });

  it("default to the user role, a cap of 10000 and 60 messages per user per minute once INBOX_STREAM is set", () => {
    expect(loadConfig({ INBOX_STREAM: "temp_memory:inbox" }).inbox).toEqual({
      stream: "temp_memory:inbox",
      roles: ["user"],
      maxLen: 10_000,
      userPerMinute: 60,
    });
  });

  it("read a comma list of roles and a cap within its bounds", () => {
    const config = loadConfig({ INBOX_STREAM: "in", INBOX_ROLES: "user, system", INBOX_MAXLEN: "100" });
    expect(config.inbox).toEqual({ stream: "in", roles: ["user", "system"], maxLen: 100, userPerMinute: 60 });
    expect(loadConfig({ INBOX_STREAM: "in", INBOX_USER_PER_MINUTE: "0" }).inbox?.userPerMinute).toBe(0);
    expect(loadConfig({ INBOX_STREAM: "in", INBOX_MAXLEN: "10000000" }).inbox?.maxLen).toBe(10_000_000);
  });

  it("refuse an unknown role, an empty role list, a cap out of bounds and a key with spaces, naming the variable", () => {
    expect(refusal({ INBOX_STREAM: "in", INBOX_ROLES: "user,bot" })).toMatch(/^invalid configuration: INBOX_ROLES\.1: /);
    expect(refusal({ INBOX_STREAM: "in", INBOX_ROLES: "," })).toMatch(/^invalid configuration: INBOX_ROLES: must name at least one/);
    expect(refusal({ INBOX_STREAM: "in", INBOX_MAXLEN: "99" })).toMatch(/^invalid configuration: INBOX_MAXLEN: /);
    expect(refusal({ INBOX_STREAM: "in", INBOX_MAXLEN: "10000001" })).toMatch(/^invalid configuration: INBOX_MAXLEN: /);
    expect(refusal({ INBOX_STREAM: "in", INBOX_MAXLEN: "1.5" })).toMatch(/^invalid configuration: INBOX_MAXLEN: /);
    expect(refusal({ INBOX_STREAM: "in", INBOX_USER_PER_MINUTE: "-1" })).toMatch(/^invalid configuration: INBOX_USER_PER_MINUTE: /);
    expect(refusal({ INBOX_STREAM: "in", INBOX_USER_PER_MINUTE: "100001" })).toMatch(/^invalid configuration: INBOX_USER_PER_MINUTE: /);
    expect(refusal({ INBOX_STREAM: "my inbox" })).toMatch(/^invalid configuration: INBOX_STREAM: must not contain spaces/);
    expect(refusal({ INBOX_STREAM: "x".repeat(257) })).toMatch(/^invalid configuration: INBOX_STREAM: /);
  });

  it("need Redis: INBOX_STREAM with STORE=memory is refused", () => {
    expect(refusal({ INBOX_STREAM: "in", STORE: "memory" })).toBe(
      "invalid configuration: INBOX_STREAM: needs Redis (the inbox is a Redis Stream): unset it, or do not set STORE=memory",
    );
    expect(loadConfig({ INBOX_STREAM: "in", STORE: "redis" }).inbox?.stream).toBe("in");
  });
});
