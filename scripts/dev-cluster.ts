/**
 * `npm run dev:cluster`: a local scrollback cluster without Docker — one
 * redis-server in a temp dir and two replicas sharing it, on loopback, and
 * on request one of the example assistants (examples/python/assistant.py,
 * examples/node/assistant.mjs) hearing every user through the inbox stream
 * (PROTOCOL.md §8) and streaming its replies through replica 1 (Python: the
 * HTTP API; Node: the SDK, connected as each user).
 * Ctrl-C (or SIGTERM) stops everything it started and removes the temp dir.
 *
 *   npm run dev:cluster                      replicas on :3000 and :3001
 *   npm run dev:cluster -- --ports 4000,4001,4002
 *   npm run dev:cluster -- --assistant python   (or node) with INBOX_STREAM set on the replicas
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type AssistantLanguage, assistantCommand, EXAMPLE_ASSISTANTS, PYTHON } from "../dev/example-assistants.js";
import { type RedisServer, startRedis } from "../dev/redis-server.js";

const MAIN = fileURLToPath(new URL("../server/src/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const USAGE = "usage: npm run dev:cluster -- [--ports 3000,3001] [--assistant python|node]";
// By URL, so the replicas find tsx whatever the working directory.
const TSX = import.meta.resolve("tsx");
const READY_TIMEOUT_MS = 20_000;
/** A replica gets this long to drain after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

/** A process the cluster started: a replica or the assistant. */
interface Member {
  name: string;
  url: string;
  child: ChildProcess;
  exited: Promise<void>;
}
type Replica = Member;

function fail(message: string): never {
  process.stderr.write(`dev-cluster: ${message}\n`);
  process.exit(2);
}

function readOptions(): { ports: number[]; assistant?: AssistantLanguage } {
  let values: { ports: string; assistant?: string };
  try {
    values = parseArgs({
      options: { ports: { type: "string", default: "3000,3001" }, assistant: { type: "string" } },
      strict: true,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}; ${USAGE}`);
  }
  const ports = values.ports.split(",").map((port) => Number(port.trim()));
  if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65_535)) {
    fail(`--ports must be a comma-separated list of ports, got "${values.ports}"`);
  }
  const { assistant } = values;
  if (assistant !== undefined && !Object.hasOwn(EXAMPLE_ASSISTANTS, assistant)) {
    fail(`--assistant must be python or node, got "${assistant}"; ${USAGE}`);
  }
  return { ports, assistant: assistant as AssistantLanguage | undefined };
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

function startReplica(index: number, port: number, redis: RedisServer, serviceToken: string, inboxStream: string): Replica {
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
      INBOX_STREAM: inboxStream,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return member(`replica ${index + 1}`, `http://127.0.0.1:${port}`, child);
}

/** Starts the example assistant in `language`, replying through `replica` (HTTP API or SDK). */
function startAssistant(
  language: AssistantLanguage,
  replica: Replica,
  redis: RedisServer,
  serviceToken: string,
  inboxStream: string,
): Member {
  const [command, args] = assistantCommand(language);
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      SCROLLBACK_URL: replica.url,
      SERVICE_TOKEN: serviceToken,
      REDIS_URL: redis.url,
      INBOX_STREAM: inboxStream,
      PYTHONUNBUFFERED: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return member("assistant", replica.url, child);
}

/** Python with redis-py, or a hint how to get it. */
function checkPython(): void {
  const probe = spawnSync(PYTHON, ["-c", "import redis"]);
  if (probe.error || probe.status !== 0) fail(`${PYTHON} cannot import redis (apt-get install python3-redis)`);
}

function member(name: string, url: string, child: ChildProcess): Member {
  // Each log line, prefixed with the process it came from.
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = "";
    stream.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { name, url, child, exited };
}

async function stopMember(replica: Member): Promise<void> {
  if (replica.child.exitCode !== null || replica.child.signalCode !== null) return;
  replica.child.kill("SIGTERM");
  const timer = setTimeout(() => replica.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await replica.exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const { ports, assistant } = readOptions();
  if (spawnSync("redis-server", ["--version"]).error) fail("redis-server is not on the PATH (apt-get install redis-server)");
  if (assistant === "python") checkPython();

  // A throwaway local Redis without users, so `redis-cli -p <port>` reads it as the README shows.
  const redis = await startRedis({ acl: false });
  const serviceToken = process.env.SERVICE_TOKEN || "dev-service-token";
  // With an assistant the replicas feed the inbox it reads; without, whatever the environment says.
  const inboxStream = assistant ? process.env.INBOX_STREAM || "temp_memory:inbox" : (process.env.INBOX_STREAM ?? "");
  const replicas = ports.map((port, index) => startReplica(index, port, redis, serviceToken, inboxStream));
  const members: Member[] = [...replicas];

  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string, code: number) => {
    stopping ??= (async () => {
      const what = `${replicas.length} replicas${members.length > replicas.length ? ", the assistant" : ""} and redis-server`;
      process.stdout.write(`dev-cluster: ${reason}; stopping ${what}\n`);
      await Promise.all(members.map(stopMember));
      await redis.stop();
      process.stdout.write("dev-cluster: stopped\n");
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stopAll(signal, 0));
  const stopWhenExits = (started: Member) =>
    void started.exited.then(() => {
      if (!stopping) void stopAll(`${started.name} exited unexpectedly`, 1);
    });
  replicas.forEach(stopWhenExits);

  try {
    await Promise.all(replicas.map(waitUntilReady));
  } catch (error) {
    await stopAll((error as Error).message, 1);
    return;
  }
  if (assistant && !stopping) {
    const started = startAssistant(assistant, replicas[0]!, redis, serviceToken, inboxStream);
    members.push(started);
    stopWhenExits(started);
  }
  const inspect = `npx scrollback stats --redis-url ${redis.url} ${replicas.map((replica) => `--replica ${replica.url}`).join(" ")}`;
  process.stdout.write(
    [
      "",
      "scrollback dev cluster is up",
      `  redis        ${redis.url}   (data in ${redis.dir})`,
      ...replicas.map((replica) => `  ${replica.name.padEnd(11)}  ${replica.url}`),
      `  HTTP API     Authorization: Bearer ${serviceToken}`,
      ...(assistant
        ? [`  assistant    ${EXAMPLE_ASSISTANTS[assistant]} on the inbox ${inboxStream}, replying through ${replicas[0]!.url}`]
        : []),
      `  inspect      ${inspect}`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

await main();
