/**
 * A clear never wipes what was stored after it from the tab that asked: the
 * SDK empties its view on `history:cleared`, which comes on the user's
 * channel in Redis's order among other tabs' adds, not on the clear's ack,
 * which does not (PROTOCOL.md §4).
 */
import { connect as connectClient, type ScrollbackClient } from "@scrollback/client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, requestOk, type TestSocket } from "../support/clients.js";
import { startReplicas, startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";
import { idsOf } from "../support/workload.js";
import { ids, nextClientEvent, waitForStatus, watchTimeline } from "./sdk-helpers.js";

const USER = "sdk_clear_order";
let redis: RedisServer;
let servers: TestServer[];
let client: ScrollbackClient;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  servers = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url, HISTORY_MAX: "1000" });
});

afterAll(async () => {
  client?.close();
  for (const socket of sockets) socket.close();
  await Promise.all(servers.map((server) => server.close()));
  await redis.stop();
});

it("after each of 30 rounds of a clear racing other tabs' adds, the clearing tab shows what Redis holds", async () => {
  client = connectClient(servers[0]!.url, { userId: USER });
  const timeline = watchTimeline(client);
  await waitForStatus(client, "online");
  // Other tabs, one on the clearing tab's replica and one on the other.
  const writers = [await connect(servers[0]!.url, { userId: USER }), await connect(servers[1]!.url, { userId: USER })];
  sockets.push(...writers);
  const reader = redis.client();
  const stored = async () => idsOf(await reader.lrange(`temp_memory:${USER}:messages`, 0, -1));

  const mismatches: { round: number; stored: string[]; shown: string[] }[] = [];
  for (let round = 0; round < 30; round++) {
    const adds = writers.map(async (writer, w) => {
      for (let n = 0; n < 4; n++) await requestOk(writer, "message:add", { id: `r${round}-w${w}-${n}`, content: "racing the clear" });
    });
    await Promise.all([client.clear(), ...adds]);
    // Sent after everything of the round was acked, so it arrives after all of it on the user's channel.
    const marker = `r${round}-marker`;
    await requestOk(writers[1]!, "message:add", { id: marker, content: "end of round" });
    await until(`round ${round}'s marker shown`, () => ids(timeline.shown).includes(marker), 10_000, 10);
    const shown = ids(timeline.shown);
    const held = await stored();
    if (shown.join() !== held.join()) mismatches.push({ round, stored: held, shown });
  }
  expect(mismatches).toEqual([]);
});

it("on the memory store too, the clearing tab empties its view on its own history:cleared", async () => {
  const memory = await startServer({ STORE: "memory" });
  const tab = connectClient(memory.url, { userId: "memory_clear" });
  try {
    const timeline = watchTimeline(tab);
    await waitForStatus(tab, "online");
    await tab.add({ id: "kept-until-clear", content: "soon gone" });
    await timeline.untilShown(1);
    const cleared = nextClientEvent(tab, "cleared");
    expect(await tab.clear()).toBe(1);
    await cleared;
    expect(timeline.shown).toEqual([]);
  } finally {
    tab.close();
    await memory.close();
  }
});
