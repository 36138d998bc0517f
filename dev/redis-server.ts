/**
 * Starts a real redis-server on a free port in a temp dir (never the
 * machine's 6379), for a test file, a bench run or `npm run dev:cluster`.
 * It can be killed, frozen and restarted on the same port and AOF dir, to
 * test outages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import { freePort } from "./free-port.js";
import { makeTestCertificates, type TestCertificates } from "./test-certificates.js";

export interface RedisServerOptions {
  /** Append-only file on, fsync'ed on every write: acked means on disk. */
  appendOnly?: boolean;
  /** Extra `redis-server` arguments, e.g. ["--cluster-enabled", "yes"]. */
  args?: string[];
  /** A config file to start from (Sentinel needs one it can rewrite); `args` override it. */
  configFile?: string;
  port?: number;
  dir?: string;
  /**
   * TLS only: no plain port, `port` is the TLS port. Certificates are made
   * in the server's dir unless given (servers that talk to each other —
   * replicas, Sentinels, a Cluster — share one CA).
   */
  tls?: RedisTlsSetup;
}

export interface RedisTlsSetup {
  certificates?: TestCertificates;
  /** `tls-auth-clients`: clients must show a certificate from the CA (mutual TLS). Default: yes. */
  authClients?: boolean;
}

/** `redis-server` arguments for TLS only on `port` with `certificates`. */
export function redisTlsArgs(port: number, certificates: TestCertificates, authClients = true): string[] {
  return [
    "--port",
    "0",
    "--tls-port",
    String(port),
    "--tls-cert-file",
    certificates.serverCertFile,
    "--tls-key-file",
    certificates.serverKeyFile,
    "--tls-ca-cert-file",
    certificates.caFile,
    "--tls-auth-clients",
    authClients ? "yes" : "no",
  ];
}

/** What a client needs to speak TLS to a server made with `certificates`: their CA and the client certificate. */
export function clientTlsOptions(certificates: TestCertificates): ConnectionOptions {
  return {
    ca: readFileSync(certificates.caFile),
    cert: readFileSync(certificates.clientCertFile),
    key: readFileSync(certificates.clientKeyFile),
  };
}

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>`, or `rediss://` when TLS only. */
  url: string;
  dir: string;
  /** The certificates, when it speaks TLS only. */
  certificates?: TestCertificates;
  process: ChildProcess;
  /** A fresh client to this server (closed by `stop`). */
  client(): Redis;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT…) to the server. */
  signal(signal: NodeJS.Signals): void;
  /** Kills it hard and waits for the process to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and dir (after `kill`). */
  restart(): Promise<void>;
  /** Stops it, closes clients, removes its dir. */
  stop(): Promise<void>;
}

async function waitForPing(port: number, tls?: ConnectionOptions, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, tls });
    probe.on("error", () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === "PONG") return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "scrollback-redis-"));
  const certificates = options.tls && (options.tls.certificates ?? makeTestCertificates(join(dir, "tls")));
  const tls = certificates && clientTlsOptions(certificates);
  const args = [
    ...(options.configFile ? [options.configFile] : []),
    ...(certificates ? redisTlsArgs(port, certificates, options.tls?.authClients) : ["--port", String(port)]),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    join(dir, "redis.log"),
    ...(options.appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
    ...(options.args ?? []),
  ];
  const clients: Redis[] = [];
  let child = spawn("redis-server", args, { stdio: "ignore" });
  await waitForPing(port, tls);

  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => proc.once("exit", () => resolve()));

  const server: RedisServer = {
    port,
    url: `${tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
    dir,
    certificates,
    get process() {
      return child;
    },
    client() {
      const client = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1, tls });
      client.on("error", () => {});
      clients.push(client);
      return client;
    },
    signal(signal) {
      child.kill(signal);
    },
    async kill() {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await exited(child);
    },
    async restart() {
      child = spawn("redis-server", args, { stdio: "ignore" });
      await waitForPing(port, tls);
    },
    async stop() {
      for (const client of clients) client.disconnect();
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
