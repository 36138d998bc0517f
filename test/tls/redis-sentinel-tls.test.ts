/**
 * Redis through Sentinel over TLS only (PROTOCOL.md §1, REDIS_TLS_*): a
 * master, a replica and three Sentinels on TLS ports that ask for client
 * certificates, replicating and watching over TLS; two scrollback replicas
 * find the master through the Sentinels and speak TLS to both.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { nextEvent, requestOk } from "../support/clients.js";
import { type RedisSentinel, startRedisSentinel } from "../support/redis-sentinel.js";
import { useReplicasOnDeployment } from "../support/replicas-on-deployment.js";
import type { TestServer } from "../support/servers.js";
import { useSuiteCertificates } from "../support/suite-certificates.js";

const tls = useSuiteCertificates("sentinel-tls");
const onSentinel = useReplicasOnDeployment(
  () => startRedisSentinel({ tls: tls.certificates }),
  () => tls.clientEnv,
);
const open = onSentinel.open;
let deployment: RedisSentinel;
let servers: TestServer[] = [];

beforeAll(async () => {
  deployment = onSentinel.deployment;
  servers = await onSentinel.startReplicas(2);
});

describe("Sentinel over TLS", () => {
  it("the data nodes and the Sentinels have no plain port, and the replica follows the master over TLS", async () => {
    const master = await deployment.master();
    const replica = await deployment.replica();
    for (const node of [master, replica, ...deployment.sentinels]) expect(node.url).toMatch(/^rediss:\/\//);
    expect(await master.client().config("GET", "port")).toEqual(["port", "0"]);
    expect(await replica.client().info("replication")).toMatch(/master_link_status:up/);
  });

  it("add on one replica, fanned out on the other, load from either; stored on the master and replicated", async () => {
    const [one, two] = servers as [TestServer, TestServer];
    const sender = await open(one, "sentinel_tls");
    const receiver = await open(two, "sentinel_tls");
    const arrival = nextEvent(receiver, "message:new");
    const ack = await requestOk(sender, "message:add", { id: "via-sentinel-tls", content: "hello over TLS" });
    expect(await arrival).toEqual(ack.message);
    expect((await requestOk(receiver, "history:load")).messages.map((message) => message.id)).toEqual(["via-sentinel-tls"]);

    const key = "temp_memory:sentinel_tls:messages";
    const master = (await deployment.master()).client();
    expect((await master.lrange(key, 0, -1)).map((element) => JSON.parse(element).id)).toEqual(["via-sentinel-tls"]);
    // WAIT: the replica has it too, copied over the TLS replication link.
    expect(await master.wait(1, 2_000)).toBe(1);
    const replica = (await deployment.replica()).client();
    expect(await replica.llen(key)).toBe(1);
  });
});
