/**
 * The operator CLI (`scrollback …`) against a real redis-server and two real
 * replicas sharing it. The Redis refuses KEYS (renamed away, as hardened
 * deployments do), so listing users can only work through SCAN.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Message } from "@scrollback/client/protocol";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { prepareRoomBroadcast, userRoomChannel } from "../../server/src/realtime/fanout-adapter.js";
import { userRoom } from "../../server/src/realtime/rooms.js";
import { connect, nextEvent, request, requestOk, type TestSocket } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { userIdsOfEveryLength } from "../support/user-ids.js";
import { Capture, cli, startCli } from "./cli-harness.js";

const TOKEN = "ops-service-token";
let redis: RedisServer;
let replicas: TestServer[];
let raw: Redis;
let env: Record<string, string>;
let writerEnv: Record<string, string>;
const sockets: TestSocket[] = [];
/** Which replica each socket is connected to. */
const socketReplica = new Map<TestSocket, number>();

beforeAll(async () => {
  redis = await startRedis({ args: ["--rename-command", "KEYS", ""] });
  raw = redis.client();
  replicas = await startReplicas(2, { STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: TOKEN });
  // The read commands run as the read-only CLI user of README "Operations"; clear, which writes, as the server's user.
  env = { REDIS_URL: redis.cliUrl };
  writerEnv = { REDIS_URL: redis.url };
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all(replicas.map((replica) => replica.close()));
  await redis.stop();
});

async function socketOf(userId: string, replica: number): Promise<TestSocket> {
  const socket = await connect(replicas[replica]!.url, { userId });
  sockets.push(socket);
  socketReplica.set(socket, replica);
  return socket;
}

async function add(socket: TestSocket, content: string): Promise<Message> {
  const ack = await requestOk(socket, "message:add", { content });
  expect(ack.ok).toBe(true);
  return ack.message;
}

function post(userId: string, content: string, replica = 0): Promise<Response> {
  return fetch(`${replicas[replica]!.url}/api/v1/users/${userId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ role: "assistant", content }),
  });
}

describe("users", () => {
  it("lists every user with a history, sorted, and not other keys", async () => {
    await raw.rpush("temp_memory:users_b:messages", '{"content":"x"}');
    await raw.rpush("temp_memory:users_a:messages", '{"content":"x"}');
    await raw.set("temp_memory:users_c:settings", "not a history");
    await raw.rpush("other_app:users_d:messages", '{"content":"x"}');
    await expect(raw.call("KEYS", "*")).rejects.toThrow(/unknown command/i);

    const human = await cli(["users"], env);
    expect(human.code).toBe(0);
    const listed = human.stdout.split("\n").filter((line) => line.startsWith("users_"));
    expect(listed).toEqual(["users_a", "users_b"]);
    expect(human.stderr).toMatch(/users? with history/);

    const json = await cli(["users", "--json"], env);
    expect(json.code).toBe(0);
    expect(json.json.users).toEqual(expect.arrayContaining(["users_a", "users_b"]));
    expect(json.json.users).not.toContain("users_c");
    expect(json.json.count).toBe(json.json.users.length);
  });

  it("takes a key prefix literally, glob characters included", async () => {
    await raw.rpush("app[1]:glob_user:messages", '{"content":"x"}');
    await raw.rpush("app1:decoy:messages", '{"content":"x"}');
    const result = await cli(["users", "--json", "--key-prefix", "app[1]"], env);
    expect(result.json.users).toEqual(["glob_user"]);
  });
});

describe("show", () => {
  it("shows the messages as clients are served them, with TTL and size", async () => {
    const tab = await socketOf("show_alice", 0);
    await add(tab, "first");
    await add(tab, "second\n\u001b[31mred");
    await raw.rpush("temp_memory:show_alice:messages", "not json", '{"content":"from python","timestamp":"2024-01-01T00:00:00"}');
    const served = await requestOk(tab, "history:load", {});

    const json = await cli(["show", "show_alice", "--json"], env);
    expect(json.code).toBe(0);
    expect(json.json).toMatchObject({ userId: "show_alice", key: "temp_memory:show_alice:messages", elements: 4, unreadableElements: 1 });
    expect(json.json.messages).toEqual(served.messages);
    expect(json.json.ttlSeconds).toBeGreaterThan(86_000);
    expect(json.json.ttlSeconds).toBeLessThanOrEqual(86_400);
    expect(json.json.memoryBytes).toBeGreaterThan(0);

    const human = await cli(["show", "show_alice"], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("temp_memory:show_alice:messages");
    expect(human.stdout).toMatch(/expires\s+in 23h 59m|expires\s+in 1d/);
    expect(human.stdout).toContain("from python");
    // A message cannot drive the operator's terminal: control characters are shown, not sent.
    expect(human.stdout).toContain("second↵\\x1b[31mred");
    expect(human.stdout).not.toContain("\u001b");
  });

  it("answers exit code 3 for a user without history, and 2 for an invalid user id", async () => {
    const missing = await cli(["show", "nobody_here", "--json"], env);
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe("");
    expect(JSON.parse(missing.stderr)).toEqual({ error: { code: "NOT_FOUND", message: expect.stringContaining("nobody_here") } });

    const invalid = await cli(["show", "no spaces allowed"], env);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/user id/);
  });
});

describe("tail", () => {
  it("prints the user's new messages from every replica and the HTTP API, and history:cleared, until stopped", async () => {
    const run = startCli(["tail", "tail_alice", "--json"], env);
    await run.stderr.waitFor(/tailing "tail_alice"/);

    const onFirst = await socketOf("tail_alice", 0);
    const fromSocket = await add(onFirst, "typed in a tab on replica 1");
    const other = await socketOf("tail_bob", 1);
    await add(other, "someone else's message");
    const posted = await post("tail_alice", "an assistant reply through replica 2", 1);
    expect(posted.status).toBe(201);
    const fromApi = (await posted.json()).message;
    await run.stdout.waitFor(/an assistant reply/);
    await request(onFirst, "history:clear", {});
    await run.stdout.waitFor(/history:cleared/);

    run.stop();
    expect(await run.code).toBe(0);
    expect(run.stdout.jsonLines()).toEqual([
      { event: "message:new", message: fromSocket },
      { event: "message:new", message: fromApi },
      { event: "history:cleared" },
    ]);
  });

  it("prints one readable line per message without --json", async () => {
    const run = startCli(["tail", "tail_carol"], env);
    await run.stderr.waitFor(/tailing/);
    expect((await post("tail_carol", "hello\u0007 there", 0)).status).toBe(201);
    await run.stdout.waitFor(/hello/);
    run.stop();
    expect(await run.code).toBe(0);
    expect(run.stdout.text).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}assistant {2}hello\\x07 there\n$/);
  });
});

describe("tail, given broadcasts that are not messages", () => {
  it("skips null, wrong types, missing fields and garbage, keeps running, and then prints a good message", async () => {
    const text = startCli(["tail", "tail_dave"], env);
    const json = startCli(["tail", "tail_dave", "--json"], env);
    await text.stderr.waitFor(/tailing/);
    await json.stderr.waitFor(/tailing/);
    const good = { id: "m1", userId: "tail_dave", role: "user", content: "x", timestamp: null };
    const malformed: unknown[] = [
      null,
      "a string",
      42,
      [good],
      {},
      { role: 7, content: "x" },
      { ...good, role: "root" },
      { ...good, content: 5 },
      { ...good, timestamp: 5 },
      { ...good, id: undefined },
      { ...good, userId: ["tail_dave"] },
      { ...good, meta: [1] },
    ];
    const adapter = replicas[0]!.app.io.of("/").adapter;
    for (const payload of malformed) {
      const prepared = prepareRoomBroadcast(adapter, userRoom("temp_memory", "tail_dave"), undefined, "message:new", payload)!;
      await raw.spublish(prepared.channel, prepared.payload);
    }
    const channel = userRoomChannel("temp_memory", "tail_dave");
    // The reviewer's hand-written one, and bytes that are no adapter message at all.
    await raw.spublish(channel, '{"uid":"e","type":3,"data":{"packet":{"type":2,"data":["message:new",{"role":7,"content":"x"}]}}}');
    await raw.spublish(channel, "{garbage");
    await raw.spublish(channel, Buffer.from([0x7b, 0xff, 0x00]));
    expect((await post("tail_dave", "after the junk", 0)).status).toBe(201);
    await text.stdout.waitFor(/after the junk/);
    await json.stdout.waitFor(/after the junk/);
    text.stop();
    json.stop();
    expect(await text.code).toBe(0);
    expect(await json.code).toBe(0);
    expect(text.stdout.text).toMatch(/^\S+Z {2}assistant {2}after the junk\n$/);
    expect(json.stdout.jsonLines<{ message: Message }>().map((line) => line.message.content)).toEqual(["after the junk"]);
    expect(text.stderr.text.match(/skipped a message:new broadcast/g)).toHaveLength(malformed.length + 1);
  });
});

describe("clear", () => {
  it("deletes the history and sends history:cleared to the user's tabs on every replica", async () => {
    const tabs = [await socketOf("clear_alice", 0), await socketOf("clear_alice", 1)];
    await add(tabs[0]!, "to be removed");
    await add(tabs[1]!, "this too");
    await raw.rpush("temp_memory:clear_bob:messages", '{"content":"stays"}');
    const cleared = tabs.map((tab) => nextEvent(tab, "history:cleared"));

    const result = await cli(["clear", "clear_alice", "--json"], writerEnv);
    expect(result.code).toBe(0);
    expect(result.json).toEqual({ userId: "clear_alice", removed: 2, notified: true });
    await Promise.all(cleared);
    expect(await raw.exists("temp_memory:clear_alice:messages")).toBe(0);
    expect(await raw.llen("temp_memory:clear_bob:messages")).toBe(1);

    const again = await cli(["clear", "clear_alice"], writerEnv);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/0 elements removed/);
  });
});

describe("export", () => {
  it("writes everything kept for the user as one JSON document, unreadable elements included", async () => {
    const tab = await socketOf("export_alice", 1);
    await add(tab, "mine");
    await raw.rpush("temp_memory:export_alice:messages", "[1,2,3]");
    const served = await requestOk(tab, "history:load", {});

    const result = await cli(["export", "export_alice"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('\n  "format"'); // indented for people
    expect(result.json).toMatchObject({ format: "scrollback-export/1", userId: "export_alice", key: "temp_memory:export_alice:messages" });
    expect(result.json.messages).toEqual(served.messages);
    expect(result.json.unreadableElements).toEqual(["[1,2,3]"]);
    expect(Date.parse(result.json.expiresAt!)).toBeGreaterThan(Date.now());

    const compact = await cli(["export", "export_alice", "--json"], env);
    expect(compact.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("answers an empty document for a user with nothing kept", async () => {
    const result = await cli(["export", "export_nobody", "--json"], env);
    expect(result.code).toBe(0);
    expect(result.json).toMatchObject({ userId: "export_nobody", messages: [], unreadableElements: [], expiresAt: null });
  });
});

describe("user ids of every length", () => {
  const ids = userIdsOfEveryLength("lengths");

  it("each user's room has a channel of its own on the adapter, the one tail listens on", () => {
    for (const userId of ids) {
      for (const replica of replicas) {
        const prepared = prepareRoomBroadcast(
          replica.app.io.of("/").adapter,
          userRoom("temp_memory", userId),
          undefined,
          "message:new",
          {},
        );
        expect({ userId, channel: prepared?.channel }).toEqual({ userId, channel: userRoomChannel("temp_memory", userId) });
      }
    }
  });

  it("fan-out across two replicas, tail and clear work for each", async () => {
    for (const userId of ids) {
      const run = startCli(["tail", userId, "--json"], env);
      await run.stderr.waitFor(/tailing/);
      const tabs = [await socketOf(userId, 0), await socketOf(userId, 1)];
      const arrival = nextEvent(tabs[1]!, "message:new");
      const sent = await add(tabs[0]!, `for ${userId}`);
      expect({ userId, arrived: await arrival }).toEqual({ userId, arrived: sent });
      await run.stdout.waitFor(/message:new/);

      const cleared = tabs.map((tab) => nextEvent(tab, "history:cleared"));
      const result = await cli(["clear", userId, "--json"], writerEnv);
      expect(result.json).toEqual({ userId, removed: 1, notified: true });
      await Promise.all(cleared);
      await run.stdout.waitFor(/history:cleared/);
      run.stop();
      expect(await run.code).toBe(0);
      expect({ userId, lines: run.stdout.jsonLines() }).toEqual({
        userId,
        lines: [{ event: "message:new", message: sent }, { event: "history:cleared" }],
      });
      for (const tab of tabs) tab.close();
    }
  });
});

describe("foreign data is shown, never obeyed by the terminal", () => {
  // ESC sequences (clear screen, OSC title, CSI colour), BEL, CR, backspace, DEL, C1 (CSI, NEL) and bidi overrides/isolates.
  const NASTY = "a\u001b[2J\u001b]0;pwned\u0007b\rc\bd\u007fe\u009b31mf\u0085g\u202eh\u2066i\u2069j";
  // What must never reach a terminal raw (a newline only ends lines).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this test is about
  const OBEYED = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  const foreignKey = `temp_memory:evil\u001b[31m\u202euser\u009b:messages`;
  const element = JSON.stringify({ id: "ok_id", role: NASTY, content: NASTY, timestamp: NASTY, meta: { [NASTY]: NASTY } });

  beforeAll(async () => {
    await raw.rpush(foreignKey, element);
    await raw.rpush("temp_memory:foreign_alice:messages", element, `not json ${NASTY}`);
  });

  it("users, show, export and stats write no control or bidi character, in text or --json", async () => {
    const runs = [
      await cli(["users"], env),
      await cli(["users", "--json"], env),
      await cli(["show", "foreign_alice"], env),
      await cli(["show", "foreign_alice", "--json"], env),
      await cli(["export", "foreign_alice"], env),
      await cli(["export", "foreign_alice", "--json"], env),
      await cli(["stats"], env),
      await cli(["stats", "--json"], env),
    ] as const;
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(OBEYED);
      expect(run.stderr).not.toMatch(OBEYED);
    }
    const [users, usersJson, show, showJson, exported, exportedJson] = runs;
    // Shown as escapes, so the operator sees what is there.
    expect(users.stdout).toContain("evil\\x1b[31m\\u202euser\\x9b\n");
    expect(show.stdout).toContain("a\\x1b[2J\\x1b]0;pwned\\x07b\\x0dc\\x08d\\x7fe\\x9b31mf\\x85g\\u202eh\\u2066i\\u2069j");
    // The JSON forms stay the same values: escaping is in the JSON text only.
    expect(usersJson.json.users).toContain("evil\u001b[31m\u202euser\u009b");
    expect(showJson.json.messages[0]).toMatchObject({ content: NASTY, timestamp: NASTY, meta: { [NASTY]: NASTY } });
    expect(exported.json.messages[0]).toMatchObject({ content: NASTY, timestamp: NASTY, meta: { [NASTY]: NASTY } });
    expect(exported.json.unreadableElements).toEqual([`not json ${NASTY}`]);
    expect(exportedJson.json).toEqual({ ...exported.json, exportedAt: expect.any(String), expiresAt: exported.json.expiresAt });
  });

  it("tail writes no control or bidi character, in text or --json", async () => {
    const text = startCli(["tail", "foreign_bob"], env);
    const json = startCli(["tail", "foreign_bob", "--json"], env);
    await text.stderr.waitFor(/tailing/);
    await json.stderr.waitFor(/tailing/);
    expect((await post("foreign_bob", NASTY, 0)).status).toBe(201);
    await text.stdout.waitFor(/pwned/);
    await json.stdout.waitFor(/pwned/);
    text.stop();
    json.stop();
    expect(await text.code).toBe(0);
    expect(await json.code).toBe(0);
    expect(text.stdout.text).not.toMatch(OBEYED);
    expect(json.stdout.text).not.toMatch(OBEYED);
    expect(text.stdout.text).toContain("a\\x1b[2J\\x1b]0;pwned\\x07b\\x0dc");
    expect(json.stdout.jsonLines<{ message: Message }>()[0]!.message.content).toBe(NASTY);
  });

  it("clear's and errors' text lines write no control character either", async () => {
    const cleared = await cli(["clear", "foreign_alice"], writerEnv);
    expect(cleared.code).toBe(0);
    expect(cleared.stdout).toMatch(/cleared "foreign_alice": 2 elements removed/);
    const failed = await cli(["show", "bad\u001b[2Jid"], env);
    expect(failed.code).toBe(2);
    expect(failed.stderr).not.toMatch(OBEYED);
    expect(failed.stderr).toContain("bad\\x1b[2Jid");
  });
});

describe("stats", () => {
  it("counts users and messages in Redis, the replicas on the fan-out, and each replica's connections", async () => {
    await socketOf("stats_alice", 0);
    await socketOf("stats_bob", 0);
    const onSecond = await socketOf("stats_alice", 1);
    await add(onSecond, "counted");

    const expectedUsers = (await cli(["users", "--json"], env)).json.count;
    let expectedMessages = 0;
    for (const user of (await cli(["users", "--json"], env)).json.users) expectedMessages += await raw.llen(`temp_memory:${user}:messages`);

    const result = await cli(["stats", "--json", "--replica", replicas[0]!.url, "--replica", replicas[1]!.url], env);
    expect(result.code).toBe(0);
    expect(result.json.redis).toMatchObject({ users: expectedUsers, messages: expectedMessages, replicasListening: 2 });
    expect(result.json.redis.usedMemoryBytes).toBeGreaterThan(0);
    const [first, second] = result.json.replicas;
    expect(first).toMatchObject({ url: replicas[0]!.url, ok: true, redisUp: true });
    expect(second).toMatchObject({ url: replicas[1]!.url, ok: true, redisUp: true });
    const open = (replica: number) => sockets.filter((socket) => socket.connected && socketReplica.get(socket) === replica).length;
    expect(first!.connections).toBe(open(0));
    expect(second!.connections).toBe(open(1));
    expect(second!.messagesAdded).toBeGreaterThanOrEqual(1);
  });

  it("reports a replica that does not answer, with exit code 4, and reads SCROLLBACK_REPLICAS", async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const result = await cli(["stats"], { ...env, SCROLLBACK_REPLICAS: `${replicas[0]!.url},${nowhere}` });
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/replicas\s+2 listening on the fan-out/);
    expect(result.stdout).toContain(`${nowhere}`);
    expect(result.stdout).toMatch(/unreachable \(ECONNREFUSED\)/);
    expect(result.stderr).toContain(`replica ${nowhere} did not answer`);
  });
});

describe("errors and settings", () => {
  it("exit code 4 naming the target, without its password, when Redis does not answer", async () => {
    const port = await freePort();
    const result = await cli(["users"], { REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
    expect(result.stderr).not.toContain("hunter2");
  });

  it("exit code 2 for usage mistakes and bad settings", async () => {
    expect((await cli([], env)).code).toBe(2);
    expect((await cli(["frobnicate"], env)).stderr).toMatch(/unknown command "frobnicate"/);
    expect((await cli(["show"], env)).stderr).toMatch(/usage: scrollback show <user>/);
    expect((await cli(["users", "--replica", "http://x"], env)).stderr).toMatch(/--replica applies to stats only/);
    expect((await cli(["users", "--bogus"], env)).code).toBe(2);
    const badSetting = await cli(["users"], { ...env, HISTORY_MAX: "0" });
    expect(badSetting.code).toBe(2);
    expect(badSetting.stderr).toContain("HISTORY_MAX");
    const memory = await cli(["users"], { STORE: "memory" });
    expect(memory.code).toBe(2);
    expect(memory.stderr).toMatch(/STORE=memory/);
    const help = await cli(["--help"], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes/);
  });
});

describe("npx scrollback (the installed bin)", () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const started: ChildProcess[] = [];
  // A failed assertion must not leave a CLI running: end whatever is left of each job.
  afterAll(() => {
    for (const child of started) {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
    }
  });

  /** Runs `command` from the repository root, in its own process group (as a shell runs a job). */
  function run(command: string, args: string[]) {
    const child = spawn(command, args, {
      cwd: root,
      detached: true,
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp", REDIS_URL: redis.cliUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(child);
    const stdout = new Capture();
    const stderr = new Capture();
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => stdout.write(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr.write(chunk));
    const code = new Promise<number | string>((resolve) => child.once("exit", (status, signal) => resolve(status ?? signal ?? -1)));
    return { child, stdout, stderr, code };
  }
  // `--no`: never fetch a package of that name from a registry.
  const npx = (args: string[]) => run("npx", ["--no", "scrollback", ...args]);
  // The link `npm install` made for the server package's bin.
  const bin = (args: string[]) => run(fileURLToPath(new URL("../../node_modules/.bin/scrollback", import.meta.url)), args);

  it("runs a command and returns its exit code", async () => {
    await raw.rpush("temp_memory:bin_user:messages", '{"content":"via bin"}');
    const found = npx(["show", "bin_user", "--json"]);
    expect(await found.code).toBe(0);
    expect(JSON.parse(found.stdout.text).messages[0].content).toBe("via bin");
    const missing = npx(["show", "bin_nobody"]);
    expect(await missing.code).toBe(3);
  });

  it("stops tail on Ctrl-C (SIGINT to the whole job) with exit code 0", async () => {
    const tail = bin(["tail", "bin_user"]);
    await tail.stderr.waitFor(/tailing "bin_user"/, 20_000);
    process.kill(-tail.child.pid!, "SIGINT");
    expect(await tail.code).toBe(0);
  });

  it("passes a SIGTERM sent to the launcher alone on to the CLI, which stops with exit code 0", async () => {
    const tail = bin(["tail", "bin_user"]);
    await tail.stderr.waitFor(/tailing "bin_user"/, 20_000);
    tail.child.kill("SIGTERM");
    expect(await tail.code).toBe(0);
  });
});
