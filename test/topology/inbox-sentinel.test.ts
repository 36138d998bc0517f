/**
 * The inbox stream through Sentinel (PROTOCOL.md §8): the XADD is part of the
 * add's script, so with REDIS_WAIT_REPLICAS=1 every acked user message is in
 * the stream on the replica too, and still there after the master is
 * SIGKILLed and the replica promoted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisSentinel, startRedisSentinel } from "../support/redis-sentinel.js";
import { startServer, type TestServer } from "../support/servers.js";
import { waitReady } from "../support/wait.js";

const TOKEN = "inbox-sentinel-token";
const STREAM = "temp_memory:inbox";

let deployment: RedisSentinel;
let server: TestServer;

beforeAll(async () => {
  deployment = await startRedisSentinel();
  server = await startServer({
    STORE: "redis",
    ...deployment.serverEnv,
    REDIS_WAIT_REPLICAS: "1",
    SERVICE_TOKEN: TOKEN,
    INBOX_STREAM: STREAM,
    HISTORY_MAX: "1000",
  });
  await waitReady(server.url);
});
afterAll(async () => {
  await server?.close();
  await deployment?.stop();
});

function post(userId: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${server.url}/api/v1/users/${userId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("the inbox through Sentinel with REDIS_WAIT_REPLICAS=1", () => {
  it("has every acked user message in the stream on the replica, and on the promoted replica after a failover", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `sentinel-inbox-${i}`);
    const statuses = await Promise.all(ids.map((id, i) => post(`inbox_sentinel_${i % 10}`, { id, content: id }).then((r) => r.status)));
    expect(statuses).toEqual(ids.map(() => 201));
    const idsIn = async (node: Awaited<ReturnType<RedisSentinel["master"]>>) =>
      (await node.client().xrange(STREAM, "-", "+")).map(([, fields]) => fields[fields.indexOf("id") + 1]);
    expect(await idsIn(await deployment.master())).toEqual(expect.arrayContaining(ids));
    expect((await idsIn(await deployment.replica())).sort()).toEqual([...ids].sort());

    const { newMaster } = await deployment.killMasterAndFailover();
    expect((await idsIn(newMaster)).sort()).toEqual([...ids].sort());
  });
});
