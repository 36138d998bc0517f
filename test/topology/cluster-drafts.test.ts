/**
 * Drafts on Redis Cluster (PROTOCOL.md §2: a user's drafts hash shares the
 * slot of their list, index and room channel): appendDraft.lua touches the
 * drafts and the id index and publishes on the room channel in one script,
 * and a load reads the window and the drafts in one pipeline, for users
 * spread over every master.
 */
import { createMessageId } from "@scrollback/client/protocol";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect, nextEvent, requestOk, type TestSocket } from "../support/clients.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { waitReady } from "../support/wait.js";

let cluster: RedisCluster;
let servers: TestServer[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  servers = await startReplicas(2, { STORE: "redis", ...cluster.serverEnv });
  await Promise.all(servers.map((server) => waitReady(server.url)));
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(servers.map((server) => server.close()));
  await cluster?.stop();
});

async function open(replica: number, userId: string): Promise<TestSocket> {
  const socket = await connect(servers[replica]!.url, { userId });
  sockets.push(socket);
  return socket;
}

it("streams, loads and ends drafts for users on every master", async () => {
  const reader = cluster.client();
  const users = Array.from({ length: 12 }, (_, i) => `cluster_draft_${i}`);
  const slots = await Promise.all(users.map((user) => reader.cluster("KEYSLOT", `temp_memory:${user}:messages`) as Promise<number>));
  // 12 users over 3 masters of about 5461 slots each: make sure all three are used.
  expect(new Set(slots.map((slot) => Math.floor(slot / 5462))).size).toBe(3);

  for (const user of users) {
    const sender = await open(0, user);
    const tab = await open(1, user);
    const id = createMessageId();
    const update = nextEvent(tab, "draft:update");
    expect((await requestOk(sender, "draft:append", { id, chunk: "Hello" })).draft).toEqual({ id, seq: 1, length: 5 });
    expect(await update).toMatchObject({ id, seq: 1, chunk: "Hello" });
    expect((await requestOk(tab, "history:load")).drafts).toMatchObject([{ id, content: "Hello", seq: 1 }]);

    const replaced = nextEvent(tab, "message:new");
    await requestOk(sender, "message:add", { id, role: "assistant", content: "Hello there" });
    expect(await replaced).toMatchObject({ id, content: "Hello there" });
    expect((await requestOk(tab, "history:load")).drafts).toEqual([]);
    expect(await requestOk(sender, "draft:append", { id, chunk: "late" }).catch((error: Error) => error.message)).toContain("DRAFT_CLOSED");
  }
}, 120_000);
