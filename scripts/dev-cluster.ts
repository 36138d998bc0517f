/**
 * `npm run dev:cluster`: a local scrollback cluster without Docker — one
 * redis-server in a temp dir and two replicas sharing it, on loopback.
 * Ctrl-C (or SIGTERM) stops everything it started and removes the temp dir.
 *
 *   npm run dev:cluster                      replicas on :3000 and :3001
 *   npm run dev:cluster -- --ports 4000,4001,4002
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type RedisServer, startRedis } from "../dev/redis-server.js";

const MAIN = fileURLToPath(new URL("../server/src/main.ts", import.meta.url));
// By URL, so the replicas find tsx whatever the working directory.
const TSX = import.meta.resolve("tsx");
const READY_TIMEOUT_MS = 20_000;
/** A replica gets this long to drain after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

interface Replica {
  name: string;
  url: string;
  child: ChildProcess;
  exited: Promise<void>;
}

function fail(message: string): never {
  process.stderr.write(`dev-cluster: ${message}\n`);
  process.exit(2);
}

function readPorts(): number[] {
  let portList: string;
  try {
    portList = parseArgs({ options: { ports: { type: "string", default: "3000,3001" } }, strict: true }).values.ports;
  } catch (error) {
    fail(`${(error as Error).message}; usage: npm run dev:cluster -- [--ports 3000,3001]`);
  }
  const ports = portList.split(",").map((port) => Number(port.trim()));
  if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65_535)) {
    fail(`--ports must be a comma-separated list of ports, got "${portList}"`);
  }
  return ports;
}

/** Resolves once the replica's /readyz answers 200; rejects if it exits first. */
async function waitUntilReady(replica: Replica): Promise<void> {
  let exited = false;
  void replica.exited.then(() => (exited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!exited && Date.now() < deadline) {
    try {
      if ((await fetch(`${replica.url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${replica.name} ${exited ? "exited" : "was not ready"} before answering ${replica.url}/readyz`);
}

function startReplica(index: number, port: number, redis: RedisServer, serviceToken: string): Replica {
  const name = `replica ${index + 1}`;
  const child = spawn(process.execPath, ["--conditions=@scrollback/source", "--import", TSX, MAIN], {
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      STORE: "redis",
      REDIS_URL: redis.url,
      // Empty means unset, and real variables win over ./.env: nothing there can point elsewhere.
      REDIS_SENTINELS: "",
      REDIS_CLUSTER_NODES: "",
      SERVICE_TOKEN: serviceToken,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Each log line, prefixed with the replica it came from.
  for (const stream of [child.stdout, child.stderr]) {
    let pending = "";
    stream.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { name, url: `http://127.0.0.1:${port}`, child, exited };
}

async function stopReplica(replica: Replica): Promise<void> {
  if (replica.child.exitCode !== null || replica.child.signalCode !== null) return;
  replica.child.kill("SIGTERM");
  const timer = setTimeout(() => replica.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await replica.exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const ports = readPorts();
  if (spawnSync("redis-server", ["--version"]).error) fail("redis-server is not on the PATH (apt-get install redis-server)");

  // A throwaway local Redis without users, so `redis-cli -p <port>` reads it as the README shows.
  const redis = await startRedis({ acl: false });
  const serviceToken = process.env.SERVICE_TOKEN || "dev-service-token";
  const replicas = ports.map((port, index) => startReplica(index, port, redis, serviceToken));

  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string, code: number) => {
    stopping ??= (async () => {
      process.stdout.write(`dev-cluster: ${reason}; stopping ${replicas.length} replicas and redis-server\n`);
      await Promise.all(replicas.map(stopReplica));
      await redis.stop();
      process.stdout.write("dev-cluster: stopped\n");
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stopAll(signal, 0));
  for (const replica of replicas) {
    void replica.exited.then(() => {
      if (!stopping) void stopAll(`${replica.name} exited unexpectedly`, 1);
    });
  }

  try {
    await Promise.all(replicas.map(waitUntilReady));
  } catch (error) {
    await stopAll((error as Error).message, 1);
    return;
  }
  const inspect = `npx scrollback stats --redis-url ${redis.url} ${replicas.map((replica) => `--replica ${replica.url}`).join(" ")}`;
  process.stdout.write(
    [
      "",
      "scrollback dev cluster is up",
      `  redis        ${redis.url}   (data in ${redis.dir})`,
      ...replicas.map((replica) => `  ${replica.name.padEnd(11)}  ${replica.url}`),
      `  HTTP API     Authorization: Bearer ${serviceToken}`,
      `  inspect      ${inspect}`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

await main();
