/**
 * deploy/haproxy/haproxy.cfg, run by a real HAProxy in front of real
 * replicas the way Compose runs it: the replicas share one port on their own
 * loopback addresses (127.0.0.2, .3, .4 as containers have their own IPs) and
 * HAProxy finds them by resolving the service name, here against a small DNS
 * responder standing in for Docker's. Only the variables the file leaves open
 * (nameserver, listen addresses, certificate, service name) differ from
 * Compose. Clients come in over HTTPS and wss:// with a certificate from a
 * test CA (openssl, in a temp dir) that they are told to trust; plain HTTP
 * only redirects.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { makeTestCertificates } from "../../dev/test-certificates.js";
import { CHROMIUM_PATH } from "../browser/chromium.js";
import { nextEvent, request, requestOk } from "../support/clients.js";
import { startServer, type TestServer } from "../support/servers.js";
import { Capture } from "./cli-harness.js";
import { type DnsResponder, startDnsResponder } from "./dns-responder.js";

const hasHaproxy = spawnSync("haproxy", ["-v"]).error === undefined;
const CONFIG = fileURLToPath(new URL("../../deploy/haproxy/haproxy.cfg", import.meta.url));

let redis: RedisServer;
let dns: DnsResponder;
let port: number;
/** HTTPS through the load balancer. */
let lbUrl: string;
/** Its plain HTTP port, which only redirects. */
let lbHttpUrl: string;
let certificatesDir: string;
/** The test CA that signed the load balancer's certificate (for 127.0.0.1 and localhost). */
let ca: string;
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
  certificatesDir = mkdtempSync(join(tmpdir(), "scrollback-lb-tls-"));
  const certificates = makeTestCertificates(certificatesDir);
  ca = readFileSync(certificates.caFile, "utf8");
  // HAProxy's crt: the certificate, then its key, in one file.
  const sitePem = join(certificatesDir, "site.pem");
  writeFileSync(sitePem, readFileSync(certificates.serverCertFile, "utf8") + readFileSync(certificates.serverKeyFile, "utf8"));
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  lbUrl = `https://127.0.0.1:${httpsPort}`;
  lbHttpUrl = `http://127.0.0.1:${httpPort}`;
  haproxy = spawn("haproxy", ["-db", "-f", CONFIG], {
    env: {
      PATH: process.env.PATH!,
      DNS_NAMESERVER: dns.address,
      LISTEN_ADDRESS: `127.0.0.1:${httpPort}`,
      TLS_LISTEN_ADDRESS: `127.0.0.1:${httpsPort}`,
      TLS_CERTIFICATE: sitePem,
      PUBLIC_HTTPS_PORT: String(httpsPort),
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
  if (certificatesDir) rmSync(certificatesDir, { recursive: true, force: true });
});

interface LbResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET through the load balancer over HTTPS, trusting the test CA (Node's fetch takes no CA of its own). */
function lbGet(path: string): Promise<LbResponse> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${lbUrl}${path}`, { ca }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

/** A GET to the load balancer's plain HTTP port with the Host header `host` (fetch sets its own). */
function plainGet(path: string, host: string): Promise<LbResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${lbHttpUrl}${path}`, { headers: { host } }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

/** A Socket.IO client through the load balancer; resolves once connected. */
function connectThroughLb(userId: string, transports: ("polling" | "websocket")[]): Promise<Socket> {
  // withCredentials: the Node client then keeps cookies, as a browser does.
  const socket = io(lbUrl, { auth: { userId }, transports, withCredentials: true, reconnection: false, forceNew: true, ca });
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

    it("speaks wss:// to socket.io-client with the test CA, and refuses a client that does not trust it", async () => {
      const tab = await connectThroughLb("lb_tls", ["websocket"]);
      const transport = tab.io.engine.transport as unknown as { name: string; uri(): string };
      expect(transport.name).toBe("websocket");
      expect(transport.uri()).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/socket\.io\//);
      expect((await request(tab as never, "message:add", { content: "over wss" })).ok).toBe(true);

      const untrusting = io(lbUrl, { auth: { userId: "lb_tls" }, transports: ["websocket"], reconnection: false, forceNew: true });
      clients.push(untrusting);
      const refusal = await new Promise<Error>((resolve) => untrusting.once("connect_error", resolve));
      // engine.io's websocket error carries the ws library's, which carries Node's TLS refusal.
      const cause = (refusal as Error & { description?: { error?: Error; message?: string } }).description;
      expect(cause?.error?.message ?? cause?.message).toBe("unable to verify the first certificate");
    });

    it("redirects plain HTTP to the same path over HTTPS, and sends HSTS over HTTPS only", async () => {
      const redirect = await fetch(`${lbHttpUrl}/healthz?from=http`, { redirect: "manual" });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.get("location")).toBe(`${lbUrl}/healthz?from=http`);
      expect(redirect.headers.get("strict-transport-security")).toBeNull();
      // A WebSocket upgrade over plain HTTP is redirected too, never forwarded.
      const upgrade = await fetch(`${lbHttpUrl}/socket.io/?EIO=4&transport=polling`, { redirect: "manual" });
      expect(upgrade.status).toBe(308);

      const secure = await lbGet("/healthz");
      expect(secure.status).toBe(200);
      expect(secure.headers["strict-transport-security"]).toBe("max-age=63072000");
    });

    it("redirects to the Host the browser asked for without its port, an IPv6 literal's brackets and colons kept", async () => {
      const httpsPort = new URL(lbUrl).port;
      const cases: [host: string, to: string][] = [
        [`[::1]:${new URL(lbHttpUrl).port}`, "[::1]"],
        ["[::1]", "[::1]"],
        ["[2001:db8::7]:80", "[2001:db8::7]"],
        ["chat.example:80", "chat.example"],
        ["chat.example", "chat.example"],
        // RFC 3986 allows an empty port.
        ["chat.example:", "chat.example"],
      ];
      for (const [host, to] of cases) {
        const redirect = await plainGet("/healthz?from=host", host);
        expect({ host, status: redirect.status, location: redirect.headers.location }).toEqual({
          host,
          status: 308,
          location: `https://${to}:${httpsPort}/healthz?from=host`,
        });
        expect(redirect.headers["strict-transport-security"]).toBeUndefined();
      }
    });

    it("refuses a Host that would make the redirect point elsewhere (a path, credentials, spaces)", async () => {
      for (const host of ["evil.example/x?", "a@evil.example", "evil.example\\x", "evil example", "[::1", "chat.example:80x"]) {
        const redirect = await plainGet("/healthz?from=host", host);
        expect({ host, status: redirect.status, location: redirect.headers.location }).toEqual({ host, status: 400, location: undefined });
      }
      expect((await plainGet("/healthz?from=host", "chat.example")).status).toBe(308);
    });

    it("serves Chromium over HTTPS: the widget, redirected from HTTP, chats over wss:// with a socket.io-client tab", async () => {
      // Chromium trusts exactly the load balancer's key (its SPKI hash), as it would a certificate from a known CA.
      const spki = spawnSync(
        "sh",
        [
          "-c",
          `openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
          "sh",
          join(certificatesDir, "server.crt"),
        ],
        { encoding: "utf8" },
      ).stdout.trim();
      const browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        args: ["--headless", "--no-sandbox", "--disable-gpu", `--ignore-certificate-errors-spki-list=${spki}`],
      });
      try {
        const page = await browser.newPage();
        const sockets: string[] = [];
        page.on("websocket", (socket) => sockets.push(socket.url()));
        const other = await connectThroughLb("lb_chromium", ["websocket"]);
        const arrival = nextEvent(other as never, "message:new");
        const response = await page.goto(`${lbHttpUrl}/?user=lb_chromium`);
        expect(page.url()).toBe(`${lbUrl}/?user=lb_chromium`);
        expect(response!.headers()["strict-transport-security"]).toBe("max-age=63072000");
        await page.locator('[data-testid=status][data-status="online"]').waitFor({ timeout: 15_000 });
        await page.locator("[data-testid=composer]").fill("typed in Chromium");
        await page.locator("[data-testid=send]").click();
        expect((await arrival).content).toBe("typed in Chromium");
        expect(sockets.some((url) => url.startsWith(`${lbUrl.replace("https:", "wss:")}/socket.io/`))).toBe(true);
      } finally {
        await browser.close();
      }
    });

    it("pins each long-polling session to its replica with a cookie, so polling-only clients work on both", async () => {
      const handshake = await lbGet("/socket.io/?EIO=4&transport=polling");
      expect(handshake.status).toBe(200);
      expect(handshake.headers["set-cookie"]?.[0]).toMatch(/^SCROLLBACK_REPLICA=\w+; path=\/; HttpOnly; Secure/);

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
      expect((await lbGet("/healthz")).status).toBe(200);
      expect((await lbGet("/metrics")).status).toBe(404);
    });

    it("keeps every spelling of /metrics from the outside, and the replicas serve only the exact path", async () => {
      // fetch sends these as written (WHATWG URLs keep case and percent-escapes of a path).
      const variants = ["/metrics/", "/METRICS", "/Metrics", "/%6detrics", "/%6Detrics", "/%4D%45TRICS", "/metrics/x", "/metrics?x=1"];
      for (const path of ["/metrics", ...variants]) {
        const response = await lbGet(path);
        // HAProxy's own error page: the request was refused there, never reaching a replica.
        const refusedBy = /<h1>404 Not Found<\/h1>/.test(response.body) ? "haproxy" : "replica";
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
