/**
 * Credentials (issue 3, PROTOCOL.md §3): a token function is called on every
 * (re)connect, so an expired token is replaced without losing a message; a
 * fixed credential that is refused ends in `unauthorized` and rejects adds.
 */
import { connect, type ScrollbackClient, type ScrollbackError } from "@scrollback/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { signToken, TEST_SECRET } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { ids, nextClientEvent, waitForStatus } from "./sdk-helpers.js";

let redis: RedisServer;
let server: TestServer;
let clients: ScrollbackClient[];

beforeEach(async () => {
  redis = await startRedis();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, AUTH_JWT_SECRET: TEST_SECRET });
  clients = [];
});
afterEach(async () => {
  for (const client of clients) client.close();
  await server.close();
  await redis.stop();
});

function open(options: Parameters<typeof connect>[1]): ScrollbackClient {
  const client = connect(server.url, { backoff: { initialMs: 50, maxMs: 300 }, ...options });
  clients.push(client);
  return client;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe("a token function", () => {
  it("is called again when the token expires (auth:expired), and the client goes on with a fresh one", async () => {
    let calls = 0;
    const client = open({
      // The first token ends within ~2 s (exp 28 s ago, inside the server's 30 s leeway).
      token: async () => (++calls === 1 ? signToken("refresh_user", { expiresAt: nowSeconds() - 28 }) : signToken("refresh_user")),
    });
    await waitForStatus(client, "online");
    await client.add({ id: "first-token", content: "with the short token" });
    expect(calls).toBe(1);

    await waitForStatus(client, "connecting"); // the server ended the expired session
    await waitForStatus(client, "online");
    expect(calls).toBe(2);
    await client.add({ id: "second-token", content: "with the fresh token" });
    expect(ids((await client.load()).messages)).toEqual(["first-token", "second-token"]);
  });

  it("keeps trying after a refused token and connects once the function returns a good one", async () => {
    let calls = 0;
    const client = open({
      token: async () =>
        ++calls === 1 ? signToken("retry_user", { secret: "not-the-server-secret-at-all-0123456789" }) : signToken("retry_user"),
    });
    const refused = nextClientEvent(client, "error");
    const added = client.add({ content: "waits for a good token" });
    expect((await refused)[0]).toMatchObject({ code: "UNAUTHORIZED" });
    await waitForStatus(client, "online");
    expect((await added).content).toBe("waits for a good token");
    expect(calls).toBe(2);
  });
});

describe("a fixed credential that is refused", () => {
  it("ends in status unauthorized and rejects waiting and new adds with UNAUTHORIZED", async () => {
    const client = open({ token: await signToken("expired_user", { expiresAt: nowSeconds() - 120 }) });
    const statuses: string[] = [];
    client.on("status", (status) => statuses.push(status));
    const waiting = client.add({ content: "never stored" });
    await expect(waiting).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(client.status).toBe("unauthorized");
    await expect(client.add({ content: "neither" })).rejects.toMatchObject({ code: "UNAUTHORIZED" } satisfies Partial<ScrollbackError>);
    await expect(client.load()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(statuses).toEqual(["unauthorized"]);
  });

  it("refuses a dev-mode userId on a server that verifies tokens", async () => {
    const client = open({ userId: "no_token_user" });
    const [error] = await nextClientEvent(client, "error");
    expect(error.code).toBe("UNAUTHORIZED");
    expect(client.status).toBe("unauthorized");
  });
});
