/**
 * TLS to Redis (PROTOCOL.md §1, REDIS_TLS_*): the protocol's core cases
 * between two replicas over a TLS-only redis-server that asks for client
 * certificates; a server certificate the client must not trust, refused
 * with one line naming REDIS_TLS_CA_FILE; unusable files refused at start;
 * and the CLI connecting the same way.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { makeServerCertificate, makeTestCertificates, type TestCertificates } from "../../dev/test-certificates.js";
import { loadConfig } from "../../server/src/config.js";
import { cli } from "../ops/cli-harness.js";
import { collect, connect, nextEvent, request, requestOk, type TestSocket } from "../support/clients.js";
import { spawnServer, startReplicas, type TestServer } from "../support/servers.js";

let dir: string;
let redis: RedisServer;
let certificates: TestCertificates;
/** Another CA, whose certificates the server's Redis never made. */
let strangerCertificates: TestCertificates;
let replicas: TestServer[];
const sockets: TestSocket[] = [];
let userCounter = 0;

/** The settings of a replica (or the CLI) that trusts the test CA and shows the client certificate. */
function tlsEnv(server: RedisServer = redis): Record<string, string> {
  return {
    STORE: "redis",
    REDIS_URL: server.url,
    REDIS_TLS_CA_FILE: certificates.caFile,
    REDIS_TLS_CERT_FILE: certificates.clientCertFile,
    REDIS_TLS_KEY_FILE: certificates.clientKeyFile,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scrollback-tls-"));
  certificates = makeTestCertificates(join(dir, "ca"));
  strangerCertificates = makeTestCertificates(join(dir, "stranger"));
  redis = await startRedis({ tls: { certificates, authClients: true } });
  replicas = await startReplicas(2, tlsEnv());
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(replicas.map((replica) => replica.close()));
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(userId: string, index: number): Promise<TestSocket> {
  const socket = await connect(replicas[index]!.url, { userId });
  sockets.push(socket);
  return socket;
}

function freshUser(): string {
  return `tls_${process.pid}_${userCounter++}`;
}

describe("a TLS-only Redis with client certificates", () => {
  it("listens on TLS only (no plain port)", async () => {
    const info = await redis.client().config("GET", "port");
    expect(info).toEqual(["port", "0"]);
  });

  it("add: stored, acked and fanned out to the user's connection on the other replica", async () => {
    const user = freshUser();
    const sender = await open(user, 0);
    const other = await open(user, 1);
    const arrival = nextEvent(other, "message:new");
    const ack = await requestOk(sender, "message:add", { content: "over TLS", meta: { lang: "en" } });
    expect(ack).toMatchObject({ ok: true, duplicate: false, message: { userId: user, content: "over TLS" } });
    expect(await arrival).toEqual(ack.message);
    // And it is in Redis, read back over TLS.
    const stored = await redis.client().lrange(`temp_memory:${user}:messages`, 0, -1);
    expect(stored.map((element) => JSON.parse(element).content)).toEqual(["over TLS"]);
  });

  it("load and search, from either replica", async () => {
    const user = freshUser();
    const writer = await open(user, 0);
    const reader = await open(user, 1);
    for (const content of ["Paris is lovely", "Berlin", "PARIS has museums"]) await requestOk(writer, "message:add", { content });
    const loaded = await requestOk(reader, "history:load");
    expect(loaded.messages.map((message) => message.content)).toEqual(["Paris is lovely", "Berlin", "PARIS has museums"]);
    const found = await requestOk(reader, "history:search", { query: "paris" });
    expect(found.messages.map((message) => message.content)).toEqual(["Paris is lovely", "PARIS has museums"]);
  });

  it("clear: removes the history and tells the user's connections on both replicas", async () => {
    const user = freshUser();
    const socket = await open(user, 0);
    const other = await open(user, 1);
    const strangerInbox = collect(await open(freshUser(), 1), "history:cleared");
    await requestOk(socket, "message:add", { content: "a" });
    await requestOk(socket, "message:add", { content: "b" });
    const cleared = Promise.all([nextEvent(other, "history:cleared"), nextEvent(socket, "history:cleared")]);
    expect(await request(socket, "history:clear", {})).toEqual({ ok: true, removed: 2 });
    expect(await cleared).toEqual([{}, {}]);
    expect((await requestOk(other, "history:load")).messages).toEqual([]);
    expect(strangerInbox).toEqual([]);
  });

  it("the CLI reads the same Redis with the same settings", async () => {
    const user = freshUser();
    await requestOk(await open(user, 0), "message:add", { content: "for the operator" });
    // The CLI's read commands run as its read-only user (dev/redis-acl.ts).
    const shown = await cli(["show", user, "--json"], { ...tlsEnv(), REDIS_URL: redis.cliUrl });
    expect(shown.stderr).toBe("");
    expect(shown.code).toBe(0);
    expect(shown.json.messages.map((message) => message.content)).toEqual(["for the operator"]);
    // --redis-url replaces the target, not the TLS files.
    const { REDIS_URL: _url, ...filesOnly } = tlsEnv();
    const listed = await cli(["users", "--json", "--redis-url", redis.cliUrl], filesOnly);
    expect(listed.code).toBe(0);
    expect(listed.json.users).toContain(user);
  });
});

describe("a server certificate the client must not trust", () => {
  it("from another CA: the replica stays unready and logs one line naming REDIS_TLS_CA_FILE", async () => {
    const server = await spawnServer({ ...tlsEnv(), REDIS_TLS_CA_FILE: strangerCertificates.caFile });
    try {
      await expect.poll(() => server.output(), { timeout: 10_000 }).toMatch(/REDIS_TLS_CA_FILE/);
      const line = server
        .output()
        .split("\n")
        .find((entry) => entry.includes("REDIS_TLS_CA_FILE"))!;
      expect(JSON.parse(line)).toMatchObject({ level: 50, msg: "redis connection error" });
      expect(JSON.parse(line).err).toMatch(/^Redis's TLS certificate was refused \(self[- ]signed certificate in certificate chain\)/);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    } finally {
      await server.stop();
    }
  });

  it("naming another host: the CLI refuses it with one line naming REDIS_TLS_CA_FILE", async () => {
    // A certificate for 127.0.0.1 only, reached as localhost.
    const onlyAddress = makeServerCertificate(certificates.dir, "address-only", ["127.0.0.1"]);
    const misnamed = await startRedis({
      tls: { certificates: { ...certificates, serverCertFile: onlyAddress.certFile, serverKeyFile: onlyAddress.keyFile } },
    });
    try {
      const result = await cli(["users"], { ...tlsEnv(), REDIS_URL: `rediss://localhost:${misnamed.port}` });
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(
        /Redis's TLS certificate was refused \(Hostname\/IP does not match certificate's altnames.*REDIS_TLS_CA_FILE/,
      );
    } finally {
      await misnamed.stop();
    }
  });

  it("the CLI refuses a certificate from another CA with one line naming REDIS_TLS_CA_FILE", async () => {
    const result = await cli(["users"], { ...tlsEnv(), REDIS_TLS_CA_FILE: strangerCertificates.caFile });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(
      /cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+: Redis's TLS certificate was refused .*REDIS_TLS_CA_FILE/,
    );
  });

  it("a replica without a client certificate, where Redis asks for one: unready, one error line naming REDIS_TLS_CERT_FILE", async () => {
    const { REDIS_TLS_CERT_FILE: _cert, REDIS_TLS_KEY_FILE: _key, ...withoutClientCertificate } = tlsEnv();
    const server = await spawnServer(withoutClientCertificate);
    try {
      await expect.poll(() => server.output(), { timeout: 10_000 }).toMatch(/REDIS_TLS_CERT_FILE/);
      const line = server
        .output()
        .split("\n")
        .find((entry) => entry.includes("REDIS_TLS_CERT_FILE"))!;
      expect(JSON.parse(line)).toMatchObject({ level: 50, msg: "redis connection error" });
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    } finally {
      await server.stop();
    }
  });

  it("the CLI without a client certificate, where Redis asks for one: one line naming REDIS_TLS_CERT_FILE", async () => {
    const { REDIS_TLS_CERT_FILE: _cert, REDIS_TLS_KEY_FILE: _key, ...withoutClientCertificate } = tlsEnv();
    const result = await cli(["users"], withoutClientCertificate);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/REDIS_TLS_CERT_FILE/);
  });
});

describe("TLS files checked at start", () => {
  it("TLS is on with rediss:// (the system's CAs) or any REDIS_TLS_* setting, for every kind of target", () => {
    expect(loadConfig({ REDIS_URL: "rediss://127.0.0.1:1" }).redis.tls).toEqual({});
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:1" }).redis.tls).toBeUndefined();
    expect(loadConfig({ REDIS_HOST: "redis.internal", REDIS_TLS_CA_FILE: "/ca.crt" }).redis).toMatchObject({
      kind: "standalone",
      tls: { caFile: "/ca.crt" },
    });
    const both = { REDIS_TLS_CERT_FILE: "/c.crt", REDIS_TLS_KEY_FILE: "/c.key" };
    expect(loadConfig({ REDIS_SENTINELS: "127.0.0.1:1", REDIS_SENTINEL_NAME: "m", ...both }).redis).toMatchObject({
      kind: "sentinel",
      tls: { certFile: "/c.crt", keyFile: "/c.key" },
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: "127.0.0.1:1", REDIS_TLS_CA_FILE: "/ca.crt" }).redis).toMatchObject({
      kind: "cluster",
      tls: { caFile: "/ca.crt" },
    });
  });

  it("a certificate without its key (or the reverse) is a configuration error", () => {
    expect(() => loadConfig({ REDIS_URL: "rediss://127.0.0.1:1", REDIS_TLS_CERT_FILE: "/x.crt" })).toThrow(
      /REDIS_TLS_KEY_FILE: required with REDIS_TLS_CERT_FILE/,
    );
    expect(() => loadConfig({ REDIS_URL: "rediss://127.0.0.1:1", REDIS_TLS_KEY_FILE: "/x.key" })).toThrow(
      /REDIS_TLS_CERT_FILE: required with REDIS_TLS_KEY_FILE/,
    );
  });

  it.each([
    [
      "an unreadable CA file",
      { REDIS_TLS_CA_FILE: "/nonexistent/ca.crt" },
      /^scrollback: invalid configuration: REDIS_TLS_CA_FILE: cannot read \/nonexistent\/ca\.crt \(ENOENT\)$/,
    ],
    [
      "a CA file that is not PEM",
      { REDIS_TLS_CA_FILE: "NOT_PEM" },
      /^scrollback: invalid configuration: REDIS_TLS_CA_FILE: .* is not a PEM file$/,
    ],
    [
      "a key that is not the certificate's",
      { REDIS_TLS_KEY_FILE: "OTHER_KEY" },
      /^scrollback: invalid configuration: REDIS_TLS_KEY_FILE: .*key values mismatch/,
    ],
  ])("%s stops the server with one line naming the setting", async (_name, override, expected) => {
    const notPem = join(dir, "not.pem");
    writeFileSync(notPem, "hello\n");
    const files: Record<string, string> = { NOT_PEM: notPem, OTHER_KEY: strangerCertificates.clientKeyFile };
    const env = { ...tlsEnv(), ...Object.fromEntries(Object.entries(override).map(([name, value]) => [name, files[value] ?? value])) };
    const server = await spawnServer(env).catch((error: Error) => error);
    expect(server).toBeInstanceOf(Error);
    const lines = (server as Error).message.split("\n").filter((line) => line.startsWith("scrollback:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
  });
});
