/**
 * `npm run dev:cluster`: a redis-server in a temp dir plus two replicas,
 * and nothing left behind once it is stopped — whether by Ctrl-C (SIGINT to
 * the whole job, as a terminal sends it), by SIGTERM to the script alone, or
 * because a replica could not start; and with `--assistant python|node`, an
 * example assistant beside the replicas that answers a user's message with a
 * reply streamed to the user's tab on another replica, then stored.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { DraftUpdate, Message } from "@scrollback/client/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { connect } from "../support/clients.js";
import { until } from "../support/wait.js";
import { Capture } from "./cli-harness.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const started: ChildProcess[] = [];

afterAll(() => {
  // Only if a test failed half-way: end whatever is left of its job.
  for (const child of started) if (processGroup(child.pid!).length > 0) process.kill(-child.pid!, "SIGKILL");
});

/** Pids of the live processes whose process group is `pgid` (zombies excluded). */
function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name, which is in parentheses and may contain spaces.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Starts `command` as its own job (process group), like a shell does. */
function startJob(command: string, args: string[]) {
  const child = spawn(command, args, {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  started.push(child);
  const output = new Capture();
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => output.write(chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => output.write(chunk));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output, exited };
}

/** Waits for the cluster to be up and checks what it printed and started (`assistant`: which example runs beside it). */
async function expectUp(job: ReturnType<typeof startJob>, ports: number[], assistant?: string): Promise<{ redisDir: string }> {
  await job.output.waitFor(/Ctrl-C stops everything/, 40_000);
  for (const port of ports) {
    expect(job.output.text).toContain(`http://127.0.0.1:${port}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ store: "redis" });
  }
  const [, redisUrl, redisDir] = /redis\s+(redis:\/\/\S+)\s+\(data in (\S+)\)/.exec(job.output.text) ?? [];
  expect(redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  expect(existsSync(redisDir!)).toBe(true);
  const commands = processGroup(job.child.pid!).map(commandLine);
  expect(commands.filter((command) => command.includes("redis-server"))).toHaveLength(1);
  expect(commands.filter((command) => command.includes("server/src/main.ts"))).toHaveLength(ports.length);
  expect(commands.filter((command) => /examples\/\w+\/assistant\./.test(command))).toEqual(
    assistant ? [expect.stringContaining(`examples/${assistant}/assistant.`)] : [],
  );
  return { redisDir: redisDir! };
}

async function expectAllGone(job: ReturnType<typeof startJob>, ports: number[], redisDir?: string): Promise<void> {
  await job.exited;
  await until("every process the dev cluster started has exited", () => processGroup(job.child.pid!).length === 0, 15_000);
  for (const port of ports) await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  if (redisDir) expect(existsSync(redisDir)).toBe(false);
}

describe("npm run dev:cluster", () => {
  it("starts redis-server and two replicas that answer /readyz; Ctrl-C stops every process it started", async () => {
    const ports = [await freePort(), await freePort()];
    const job = startJob("npm", ["run", "dev:cluster", "--", "--ports", ports.join(",")]);
    const { redisDir } = await expectUp(job, ports);

    process.kill(-job.child.pid!, "SIGINT");
    await expectAllGone(job, ports, redisDir);
    expect(job.output.text).toContain("dev-cluster: stopped");
  });

  it("stops everything when only the script gets SIGTERM, with exit code 0", async () => {
    const ports = [await freePort(), await freePort()];
    const job = startJob(process.execPath, [
      "--conditions=@scrollback/source",
      "--import",
      "tsx",
      "scripts/dev-cluster.ts",
      "--ports",
      ports.join(","),
    ]);
    const { redisDir } = await expectUp(job, ports);

    job.child.kill("SIGTERM");
    expect(await job.exited).toBe(0);
    await expectAllGone(job, ports, redisDir);
  });

  it("stops everything and exits 1 when a replica cannot start (its port is taken)", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const busy = (taken.address() as { port: number }).port;
    const free = await freePort();
    try {
      const job = startJob(process.execPath, [
        "--conditions=@scrollback/source",
        "--import",
        "tsx",
        "scripts/dev-cluster.ts",
        "--ports",
        `${free},${busy}`,
      ]);
      expect(await job.exited).toBe(1);
      expect(job.output.text).toMatch(/replica 2 exited/);
      await expectAllGone(job, [free]);
    } finally {
      taken.close();
    }
  });

  it.each(["python", "node"])(
    "--assistant %s starts the example assistant: a message added through replica 1 gets a reply streamed to a tab on replica 2, then stored",
    async (language) => {
      const ports = [await freePort(), await freePort()];
      const job = startJob("npm", ["run", "dev:cluster", "--", "--ports", ports.join(","), "--assistant", language]);
      await job.output.waitFor(/\[assistant\] .*listening on temp_memory:inbox/, 40_000);
      const { redisDir } = await expectUp(job, ports, language);
      const token = /Authorization: Bearer (\S+)/.exec(job.output.text)![1]!;

      const userId = `dev_cluster_${language}`;
      const tab = await connect(`http://127.0.0.1:${ports[1]}`, { userId });
      const updates: DraftUpdate[] = [];
      const stored: Message[] = [];
      tab.on("draft:update", (update) => updates.push(update));
      tab.on("message:new", (message) => stored.push(message));
      try {
        const added = await fetch(`http://127.0.0.1:${ports[0]}/api/v1/users/${userId}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ content: "Is anyone there?" }),
        });
        expect(added.status).toBe(201);
        const { message } = (await added.json()) as { message: Message };
        await until("the tab got the assistant's stored reply", () => stored.some((seen) => seen.role === "assistant"), 20_000, 20);
        const reply = stored.find((seen) => seen.role === "assistant")!;
        expect(reply).toMatchObject({ content: "You wrote 3 words: Is anyone there?", meta: { inReplyTo: message.id } });
        expect(updates.map((update) => update.id)).toEqual(updates.map(() => reply.id));
        expect(updates.map((update) => update.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(updates.map((update) => update.chunk).join("")).toBe(reply.content);
        await job.output.waitFor(new RegExp(`\\[assistant\\] replied ${message.id} ${reply.id}`), 5_000);
      } finally {
        tab.close();
      }

      process.kill(-job.child.pid!, "SIGINT");
      await expectAllGone(job, ports, redisDir);
      expect(job.output.text).toContain("dev-cluster: stopped");
    },
  );

  it("refuses bad --ports with a usage line and exit code 2", async () => {
    const job = startJob(process.execPath, [
      "--conditions=@scrollback/source",
      "--import",
      "tsx",
      "scripts/dev-cluster.ts",
      "--ports",
      "80a",
    ]);
    expect(await job.exited).toBe(2);
    expect(job.output.text).toMatch(/--ports must be/);
  });

  it("refuses an unknown --assistant with a usage line and exit code 2", async () => {
    const job = startJob(process.execPath, [
      "--conditions=@scrollback/source",
      "--import",
      "tsx",
      "scripts/dev-cluster.ts",
      "--assistant",
      "ruby",
    ]);
    expect(await job.exited).toBe(2);
    expect(job.output.text).toMatch(/--assistant must be python or node, got "ruby"; usage:/);
  });
});
