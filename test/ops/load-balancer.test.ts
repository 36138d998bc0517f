/**
 * deploy/haproxy/haproxy.cfg, run by a real HAProxy in front of real
 * replicas the way Compose runs it: the replicas share one port on their own
 * loopback addresses (127.0.0.2, .3, .4 as containers have their own IPs) and
 * HAProxy finds them by resolving the service name, here against a small DNS
 * responder standing in for Docker's. Only the variables the file leaves open
 * (nameserver, listen address, service name) differ from Compose.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { nextEvent, request, requestOk } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { Capture } from "./cli-harness.js";
import { type DnsResponder, startDnsResponder } from "./dns-responder.js";

const hasHaproxy = spawnSync("haproxy", ["-v"]).error === undefined;
const CONFIG = fileURLToPath(new URL("../../deploy/haproxy/haproxy.cfg", import.meta.url));

let redis: RedisServer;
let dns: DnsResponder;
let port: number;
let lbUrl: string;
let haproxy: ChildProcess;
const log = new Capture();
const replicas: TestServer[] = [];
const clients: Socket[] = [];

async function startReplica(address: string): Promise<TestServer> {
  const replica = await startServer({ HOST: address, PORT: String(port), STORE: "redis", REDIS_URL: redis.url });
  replicas.push(replica);
  return replica;
}

beforeAll(async () => {
  if (!hasHaproxy) return;
  redis = await startRedis();
  port = await freePort();
  await startReplica("127.0.0.2");
  await startReplica("127.0.0.3");
  dns = await startDnsResponder("scrollback", ["127.0.0.2", "127.0.0.3"]);
  const lbPort = await freePort();
  lbUrl = `http://127.0.0.1:${lbPort}`;
  haproxy = spawn("haproxy", ["-db", "-f", CONFIG], {
    env: {
      PATH: process.env.PATH!,
      DNS_NAMESERVER: dns.address,
      LISTEN_ADDRESS: `127.0.0.1:${lbPort}`,
      SCROLLBACK_SERVICE: `scrollback:${port}`,
      DYNAMIC_COOKIE_KEY: "test-key",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  haproxy.stdout!.setEncoding("utf8").on("data", (chunk: string) => log.write(chunk));
  haproxy.stderr!.setEncoding("utf8").on("data", (chunk: string) => log.write(chunk));
  await log.waitFor(/replica1 changed its IP from \(none\) to 127\.0\.0\.[23]/, 20_000);
  await log.waitFor(/replica2 changed its IP from \(none\) to 127\.0\.0\.[23]/, 20_000);
});
afterAll(async () => {
  for (const client of clients) client.close();
  if (haproxy && haproxy.exitCode === null) {
    haproxy.kill("SIGTERM");
    await new Promise((resolve) => haproxy.once("exit", resolve));
  }
  await Promise.all(replicas.map((replica) => replica.close()));
  await dns?.close();
  await redis?.stop();
});

/** A Socket.IO client through the load balancer; resolves once connected. */
function connectThroughLb(userId: string, transports: ("polling" | "websocket")[]): Promise<Socket> {
  // withCredentials: the Node client then keeps cookies, as a browser does.
  const socket = io(lbUrl, { auth: { userId }, transports, withCredentials: true, reconnection: false, forceNew: true });
  clients.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function connectionsOn(replica: TestServer): Promise<number> {
  return (await replica.app.metrics.connections.get()).values[0]?.value ?? 0;
}

describe.skipIf(!hasHaproxy)(
  `HAProxy (deploy/haproxy/haproxy.cfg) in front of the replicas${hasHaproxy ? "" : " — SKIPPED: haproxy is not installed"}`,
  () => {
    it("upgrades WebSockets, spreads them over the replicas, and fans messages out between them", async () => {
      const tabs = await Promise.all([1, 2, 3, 4].map(() => connectThroughLb("lb_alice", ["websocket"])));
      expect(await connectionsOn(replicas[0]!)).toBeGreaterThanOrEqual(1);
      expect(await connectionsOn(replicas[1]!)).toBeGreaterThanOrEqual(1);
      const arrivals = tabs.slice(1).map((tab) => nextEvent(tab as never, "message:new"));
      const ack = await requestOk(tabs[0] as never, "message:add", { content: "through the load balancer" });
      expect(ack.ok).toBe(true);
      for (const message of await Promise.all(arrivals)) expect(message.id).toBe(ack.message.id);
    });

    it("pins each long-polling session to its replica with a cookie, so polling-only clients work on both", async () => {
      const handshake = await fetch(`${lbUrl}/socket.io/?EIO=4&transport=polling`);
      expect(handshake.status).toBe(200);
      expect(handshake.headers.get("set-cookie")).toMatch(/^SCROLLBACK_REPLICA=\w+; path=\/; HttpOnly/);

      const before = await Promise.all(replicas.slice(0, 2).map(connectionsOn));
      const tabs = await Promise.all([1, 2, 3, 4].map(() => connectThroughLb("lb_bob", ["polling"])));
      const after = await Promise.all(replicas.slice(0, 2).map(connectionsOn));
      expect(after[0]! - before[0]!).toBeGreaterThanOrEqual(1);
      expect(after[1]! - before[1]!).toBeGreaterThanOrEqual(1);
      // Several request/response round trips per session: any one landing on the wrong replica would fail.
      for (let round = 0; round < 3; round++) {
        const arrivals = tabs.slice(1).map((tab) => nextEvent(tab as never, "message:new"));
        const ack = await requestOk(tabs[0] as never, "message:add", { content: `polling round ${round}` });
        expect(ack.ok).toBe(true);
        for (const message of await Promise.all(arrivals)) expect(message.id).toBe(ack.message.id);
        for (const tab of tabs) expect((await request(tab as never, "history:load", {})).ok).toBe(true);
      }
    });

    it("serves /healthz but keeps /metrics from the outside", async () => {
      expect((await fetch(`${lbUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${lbUrl}/metrics`)).status).toBe(404);
    });

    it("keeps every spelling of /metrics from the outside, and the replicas serve only the exact path", async () => {
      // fetch sends these as written (WHATWG URLs keep case and percent-escapes of a path).
      const variants = ["/metrics/", "/METRICS", "/Metrics", "/%6detrics", "/%6Detrics", "/%4D%45TRICS", "/metrics/x", "/metrics?x=1"];
      for (const path of ["/metrics", ...variants]) {
        const response = await fetch(`${lbUrl}${path}`);
        // HAProxy's own error page: the request was refused there, never reaching a replica.
        const refusedBy = /<h1>404 Not Found<\/h1>/.test(await response.text()) ? "haproxy" : "replica";
        expect({ path, status: response.status, refusedBy }).toEqual({ path, status: 404, refusedBy: "haproxy" });
      }
      const replica = `http://127.0.0.2:${port}`; // each replica listens on its own address
      expect((await fetch(`${replica}/metrics`)).status).toBe(200);
      for (const path of variants.filter((variant) => !variant.includes("?"))) {
        expect({ path, status: (await fetch(`${replica}${path}`)).status }).toEqual({ path, status: 404 });
      }
      for (const path of ["/HEALTHZ", "/healthz/", "/Readyz", "/readyz/"]) {
        expect({ path, status: (await fetch(`${replica}${path}`)).status }).toEqual({ path, status: 404 });
      }
    });

    it("picks up a replica added to the service name (a scale-up) without a reload", async () => {
      const added = await startReplica("127.0.0.4");
      dns.setAddresses(["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
      await log.waitFor(/changed its IP from \(none\) to 127\.0\.0\.4/, 20_000);
      // leastconn sends new sessions to the replica with the fewest: the new, empty one.
      const tab = await connectThroughLb("lb_carol", ["websocket"]);
      expect(await connectionsOn(added)).toBe(1);
      expect((await request(tab as never, "message:add", { content: "on the new replica" })).ok).toBe(true);
    });

    it("takes a stopped replica out of rotation: new connections all succeed on the others", async () => {
      const stopped = replicas[1]!;
      await stopped.close();
      await log.waitFor(/Server scrollback\/replica\d+ is DOWN/, 20_000);
      const tabs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => connectThroughLb("lb_dave", ["websocket"])));
      for (const tab of tabs) expect((await request(tab as never, "history:load", {})).ok).toBe(true);
    });
  },
);
