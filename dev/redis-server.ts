/**
 * Starts a real redis-server on a free port in a temp dir (never the
 * machine's 6379), for a test file, a bench run or `npm run dev:cluster`.
 * It can be killed, frozen and restarted on the same port and AOF dir, to
 * test outages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import { freePort } from "./free-port.js";
import { assistantAclRule, cliReadOnlyAclRule, directWriterAclRule, serverAclRule } from "./redis-acl.js";
import { makeTestCertificates, type TestCertificates } from "./test-certificates.js";

/**
 * The users of a Redis started with `acl` (the default): the default user is
 * off, scrollback's replicas connect as `scrollback` (the least-privilege rule
 * of redis-acl.ts), the operator CLI's read commands as `scrollback-cli`, and
 * the test's own inspection and fault injection (`client()`, replication) as
 * `admin`. Test passwords, for loopback servers in temp dirs only.
 */
export const TEST_REDIS_USERS = {
  server: { username: "scrollback", password: "scrollback-test-pw" },
  cli: { username: "scrollback-cli", password: "scrollback-cli-test-pw" },
  admin: { username: "admin", password: "admin-test-pw" },
  assistant: { username: "scrollback-assistant", password: "scrollback-assistant-test-pw" },
  writer: { username: "scrollback-writer", password: "scrollback-writer-test-pw" },
} as const;

/** The inbox streams the test Redis's assistant user may read: `temp_memory:inbox`, and `temp_memory:inbox-<anything>` for tests that want a stream of their own. */
export const TEST_INBOX_STREAMS = "temp_memory:inbox*";

type Credentials = { username: string; password: string };

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
  /**
   * Users and permissions as in production (TEST_REDIS_USERS), the default
   * user disabled: true unless set to false. A topology whose nodes must
   * talk to each other unauthenticated (Cluster, Sentinel fixtures) opts out.
   */
  acl?: boolean;
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
  /** `REDIS_URL` for a replica: as the restricted `scrollback` user when `acl` is on; `rediss://` when TLS only. */
  url: string;
  /** A URL with every right (the `admin` user when `acl` is on, else `url`): for tools that watch or inspect, such as MONITOR. */
  adminUrl: string;
  /** `REDIS_URL` for an assistant reading the inbox (`scrollback-assistant`, streams TEST_INBOX_STREAMS, when `acl` is on, else `url`). */
  assistantUrl: string;
  /** `REDIS_URL` for a program writing with `FCALL scrollback_add` (`scrollback-writer` when `acl` is on, else `url`). */
  writerUrl: string;
  /** `REDIS_URL` for the CLI's read-only commands (the `scrollback-cli` user when `acl` is on, else `url`). */
  cliUrl: string;
  /** The credentials in `url` (for REDIS_USERNAME / REDIS_PASSWORD, or a proxy's URL); none without `acl`. */
  username?: string;
  password?: string;
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
  /**
   * Stops it, closes clients, removes its dir. With `acl`, it then rejects if
   * Redis refused any scrollback user a command (its `ACL LOG`): the rule is
   * missing something, or the code uses a command it should not.
   */
  stop(): Promise<void>;
  /** What `ACL LOG` holds for the scrollback users, e.g. `scrollback: command keys`; empty without `acl`. */
  aclRefusals(): Promise<string[]>;
}

/**
 * A one-shot admin client to a local redis-server that may not answer (still
 * starting, or gone): it connects only when told to, never retries a
 * connection or a command, and swallows its error events, so a failure is
 * the rejection of the call that met it. The caller disconnects it.
 */
function probeClient(port: number, admin: Credentials | undefined, tls?: ConnectionOptions): Redis {
  const probe = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    tls,
    ...admin,
  });
  probe.on("error", () => {});
  return probe;
}

async function waitForPing(port: number, admin: Credentials | undefined, tls?: ConnectionOptions, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = probeClient(port, admin, tls);
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
  const acl = options.acl ?? true;
  const admin = acl ? TEST_REDIS_USERS.admin : undefined;
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
    ...(admin ? ["--aclfile", writeAclFile(dir), "--masteruser", admin.username, "--masterauth", admin.password] : []),
    ...(options.args ?? []),
  ];
  const clients: Redis[] = [];
  let child = spawn("redis-server", args, { stdio: "ignore" });
  await waitForPing(port, admin, tls);

  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => proc.once("exit", () => resolve()));

  const server: RedisServer = {
    port,
    url: redisUrl(port, acl ? TEST_REDIS_USERS.server : undefined, tls !== undefined),
    cliUrl: redisUrl(port, acl ? TEST_REDIS_USERS.cli : undefined, tls !== undefined),
    adminUrl: redisUrl(port, admin, tls !== undefined),
    assistantUrl: redisUrl(port, acl ? TEST_REDIS_USERS.assistant : undefined, tls !== undefined),
    writerUrl: redisUrl(port, acl ? TEST_REDIS_USERS.writer : undefined, tls !== undefined),
    ...(acl ? TEST_REDIS_USERS.server : {}),
    dir,
    certificates,
    get process() {
      return child;
    },
    client() {
      const client = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1, tls, ...admin });
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
      await waitForPing(port, admin, tls);
    },
    async stop() {
      const refused = admin ? await refusedByAcl(port, admin, tls) : [];
      for (const client of clients) client.disconnect();
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
      // A command outside scrollback's rule fails the suite, even where the caller swallowed the refusal.
      if (refused.length > 0) throw new Error(`Redis refused commands outside the ACL rule (dev/redis-acl.ts): ${refused.join("; ")}`);
    },
    async aclRefusals() {
      return admin ? refusedByAcl(port, admin, tls) : [];
    },
  };
  return server;
}

/** The ACL LOG entries of the scrollback users (a Redis that no longer answers has none to give). */
async function refusedByAcl(port: number, admin: Credentials, tls?: ConnectionOptions): Promise<string[]> {
  const client = probeClient(port, admin, tls);
  try {
    await client.connect();
    const entries = (await client.call("ACL", "LOG", "128")) as unknown[][];
    const scrollbackUsers: string[] = [
      TEST_REDIS_USERS.server.username,
      TEST_REDIS_USERS.cli.username,
      TEST_REDIS_USERS.assistant.username,
      TEST_REDIS_USERS.writer.username,
    ];
    return entries
      .map((entry) => {
        const fields = new Map<string, unknown>();
        for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
        return fields;
      })
      .filter((fields) => scrollbackUsers.includes(String(fields.get("username"))))
      .map((fields) => `${fields.get("username")}: ${fields.get("reason")} ${fields.get("object")} (${fields.get("context")})`);
  } catch {
    return [];
  } finally {
    client.disconnect();
  }
}

function redisUrl(port: number, user: Credentials | undefined, tls = false): string {
  const scheme = tls ? "rediss" : "redis";
  return user ? `${scheme}://${user.username}:${user.password}@127.0.0.1:${port}` : `${scheme}://127.0.0.1:${port}`;
}

/** Writes the ACL file of TEST_REDIS_USERS into `dir` and returns its path. */
function writeAclFile(dir: string): string {
  const { server, cli, admin, assistant, writer } = TEST_REDIS_USERS;
  const path = join(dir, "users.acl");
  writeFileSync(
    path,
    [
      // Off, but its permissions kept: Redis 7.0 replays an AOF's MULTI/EXEC (a script's effects) checking them
      // against the default user, and with `-@all` it drops every such write on restart (seen on 7.0.15).
      "user default off ~* &* +@all",
      `user ${server.username} ${serverAclRule(server.password)}`,
      `user ${cli.username} ${cliReadOnlyAclRule(cli.password)}`,
      `user ${assistant.username} ${assistantAclRule(assistant.password, TEST_INBOX_STREAMS)}`,
      `user ${writer.username} ${directWriterAclRule(writer.password)}`,
      `user ${admin.username} on >${admin.password} ~* &* +@all`,
      "",
    ].join("\n"),
  );
  return path;
}
