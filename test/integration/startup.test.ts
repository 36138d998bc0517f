/** Starting the real entry point (PROTOCOL.md §1): .env, bad settings, production without JWT. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { spawnServer } from "../support/servers.js";

const MAIN = fileURLToPath(new URL("../../server/src/main.ts", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "scrollback-start-"));
  dirs.push(dir);
  return dir;
}

/** Runs the entry point to completion (it should refuse to start). */
function runMain(env: Record<string, string>, cwd = tempDir()) {
  const { PORT: _port, ...parentEnv } = process.env;
  return spawnSync(process.execPath, ["--conditions=@scrollback/source", "--import", import.meta.resolve("tsx"), MAIN], {
    cwd,
    env: { ...parentEnv, STORE: "memory", LOG_LEVEL: "silent", ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
}

describe("starting the server", () => {
  it("reads .env in the working directory, and real environment variables win", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, ".env"), "STORE=memory\nSERVICE_TOKEN=from-dotenv\nHISTORY_MAX=2\n");
    const server = await spawnServer({ HISTORY_MAX: "3", STORE: "memory" }, { cwd: dir });
    try {
      const headers = { authorization: "Bearer from-dotenv", "content-type": "application/json" };
      for (let i = 0; i < 5; i++) {
        await fetch(`${server.url}/api/v1/users/dotenv/messages`, { method: "POST", headers, body: JSON.stringify({ content: `m${i}` }) });
      }
      const body = await (await fetch(`${server.url}/api/v1/users/dotenv/messages`, { headers })).json();
      expect(body.messages).toHaveLength(3);
    } finally {
      await server.stop();
    }
  });

  it.each([
    [{ HISTORY_MAX: "fifteen" }, "HISTORY_MAX"],
    [{ PORT: "-1" }, "PORT"],
    [{ NODE_ENV: "production" }, "AUTH_JWT_SECRET"],
    [{ REDIS_URL: "redis://a:1", REDIS_SENTINELS: "b:2", REDIS_SENTINEL_NAME: "m" }, "REDIS_SENTINELS"],
  ])("refuses %o with exit 1 and one line naming %s", (env, variable) => {
    const result = runMain(env);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
  });

  it("refuses production that a mistake would open: one line per problem, each naming its variable, all at once", () => {
    const result = runMain({
      NODE_ENV: "production",
      STORE: "auto",
      AUTH_MODE: "dev",
      AUTH_JWT_SECRET: "too-short-for-hs256",
      SERVICE_TOKEN: "replace-with-a-long-random-secret-from-openssl-rand",
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines.map((line) => /^scrollback: invalid configuration: (\w+): /.exec(line)?.[1]).sort()).toEqual([
      "AUTH_JWT_SECRET",
      "AUTH_MODE",
      "SERVICE_TOKEN",
      "STORE",
    ]);
    expect(result.stderr).not.toContain("too-short-for-hs256");
  });

  it("refuses a bad value given in .env too", () => {
    const dir = tempDir();
    writeFileSync(join(dir, ".env"), "RATE_LIMIT_BURST=zero\n");
    const result = runMain({}, dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("RATE_LIMIT_BURST");
  });
});
