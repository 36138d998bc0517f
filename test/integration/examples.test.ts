/**
 * The README's HTTP API examples are files under examples/, shown verbatim,
 * and they work: each runs (sh + curl, python3) against a real server on a
 * real Redis, and the test reads what it stored from Redis itself.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { messagesKey } from "../../server/src/store/redis-keys.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TOKEN = "examples-test-token";
// Async: the server runs in this process, so a synchronous child would block it.
const run = promisify(execFile);

let redis: RedisServer;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedis();
  server = await startServer({ STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN: TOKEN });
});
afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

/** Runs an example as the README says, against the test's server. */
function runExample(command: string, args: string[], token = TOKEN) {
  return run(command, args, { cwd: ROOT, env: { ...process.env, SCROLLBACK_URL: server.url, SERVICE_TOKEN: token }, timeout: 20_000 });
}

/** What Redis keeps for `user`, oldest first. */
async function stored(user: string): Promise<{ id: string; role: string; content: string; meta?: unknown }[]> {
  return (await redis.client().lrange(messagesKey("temp_memory", user), 0, -1)).map((element) => JSON.parse(element));
}

describe("the README shows the examples verbatim", () => {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const fence = { sh: "sh", py: "python" } as const;
  const files = readdirSync(`${ROOT}examples`, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.parentPath.includes("__pycache__"))
    .map((entry) => `${entry.parentPath.slice(ROOT.length)}/${entry.name}`);

  // The assistants and the direct writer are longer: the README links them
  // (assistant-examples.test.ts and direct-write.test.ts run them).
  const shown = files.filter((file) => !file.includes("/assistant.") && !file.includes("/direct_write."));

  it("finds the curl and the Python example", () => expect(shown.sort()).toEqual(["examples/curl/reply.sh", "examples/python/reply.py"]));

  it.each(files.filter((file) => !shown.includes(file)))("%s is linked from the README", (file) => {
    expect(readme).toContain(`](${file})`);
  });

  it.each(shown)("%s is a code block of the README", (file) => {
    const language = fence[file.split(".").pop() as keyof typeof fence];
    const block = `\`\`\`${language}\n${readFileSync(`${ROOT}${file}`, "utf8")}\`\`\`\n`;
    expect(readme.includes(block), `README.md must show ${file} unchanged in a \`\`\`${language} block`).toBe(true);
  });
});

describe("examples/curl/reply.sh", () => {
  it("stores the reply once, however often it runs", async () => {
    const first = JSON.parse((await runExample("sh", ["examples/curl/reply.sh", "example_curl"])).stdout);
    expect(first).toMatchObject({ duplicate: false, message: { id: "reply-0001", userId: "example_curl", role: "assistant" } });
    const again = JSON.parse((await runExample("sh", ["examples/curl/reply.sh", "example_curl"])).stdout);
    expect(again).toEqual({ duplicate: true, message: first.message });
    expect(await stored("example_curl")).toEqual([
      {
        id: "reply-0001",
        role: "assistant",
        content: "Your report is due on Friday.",
        timestamp: first.message.timestamp,
        meta: { model: "demo" },
      },
    ]);
  });

  it("fails, with the error body, on a wrong token", async () => {
    const failure = await runExample("sh", ["examples/curl/reply.sh", "example_curl_refused"], "wrong").catch((error) => error);
    expect(failure.code).not.toBe(0);
    expect(JSON.parse(failure.stdout).error.code).toBe("UNAUTHORIZED");
    expect(await stored("example_curl_refused")).toEqual([]);
  });
});

describe("examples/python/reply.py", () => {
  it("stores the reply and prints the history", async () => {
    const question = await fetch(`${server.url}/api/v1/users/example_python/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ content: "When is my report due?" }),
    });
    expect(question.status).toBe(201);
    const { stdout } = await runExample("python3", ["examples/python/reply.py", "example_python", "On Friday. ✓"]);
    const kept = await stored("example_python");
    expect(kept).toMatchObject([
      { role: "user", content: "When is my report due?" },
      { role: "assistant", content: "On Friday. ✓", meta: { model: "demo" } },
    ]);
    expect(stdout).toBe(`201 stored ${kept[1]!.id}\nuser: When is my report due?\nassistant: On Friday. ✓\n`);
  });

  it("retries an UNAVAILABLE with the same id: Redis frozen until the first 503, and the reply ends up stored once", async () => {
    const refusals = () =>
      server.app.metrics.httpRequests
        .get()
        .then((metric) => metric.values.find((value) => value.labels.route === "add" && value.labels.status === "503")?.value ?? 0);
    const refusedBefore = await refusals();
    redis.signal("SIGSTOP");
    try {
      const example = runExample("python3", ["examples/python/reply.py", "example_python_retry", "Sent through an outage"]);
      // Thawed once the server has refused the first attempt, however long python3 took to start.
      example.catch(() => {}); // awaited below; not unhandled while this waits
      await until("the server answered the example 503", async () => (await refusals()) > refusedBefore, 15_000, 50);
      redis.signal("SIGCONT");
      const { stdout } = await example;
      const kept = await stored("example_python_retry");
      expect(kept).toMatchObject([{ role: "assistant", content: "Sent through an outage" }]);
      // The first attempt may have landed after all once Redis woke: then a retry finds it (200 duplicate).
      expect(stdout).toMatch(new RegExp(`^(201 stored|200 duplicate) ${kept[0]!.id}\nassistant: Sent through an outage\n$`));
    } finally {
      redis.signal("SIGCONT");
    }
  });

  it("exits with the refusal on a wrong token", async () => {
    const failure = await runExample("python3", ["examples/python/reply.py", "example_python_refused", "x"], "wrong").catch(
      (error) => error,
    );
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain("401 UNAUTHORIZED");
    expect(await stored("example_python_refused")).toEqual([]);
  });
});
