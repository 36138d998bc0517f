/**
 * The Dockerfile, carried out without Docker (there is no engine here): its
 * install stage's COPY and `npm ci` steps replayed into a temp dir standing
 * for /app, then its CMD, HEALTHCHECK and PATH used as the image would. This
 * proves the image's file set and production-only dependencies are enough to
 * serve, pass the health check and run the operator CLI.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { Capture } from "./cli-harness.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "scrollback-image-"));
const app = join(scratch, "app");

interface Step {
  instruction: string;
  args: string;
}
interface Stage {
  name?: string;
  steps: Step[];
}

/** Instructions by stage, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const joined = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim());
  for (const line of joined) {
    if (line === "" || line.startsWith("#")) continue;
    const [, instruction, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!instruction) continue;
    if (instruction === "FROM") stages.push({ name: / AS (\S+)$/i.exec(args!)?.[1], steps: [] });
    else stages.at(-1)?.steps.push({ instruction, args: args! });
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
const runtime = stages.at(-1)!;
const step = (stage: Stage, instruction: string) => stage.steps.filter((entry) => entry.instruction === instruction);
const cmd: string[] = JSON.parse(step(runtime, "CMD")[0]!.args);
const healthcheck: string[] = JSON.parse(/\bCMD\s+(\[.*\])$/.exec(step(runtime, "HEALTHCHECK")[0]!.args)![1]!);
/** The runtime stage's ENV, with /app as our temp dir and $PATH as this machine's. */
const imageEnv: Record<string, string> = Object.fromEntries(
  step(runtime, "ENV").flatMap((entry) =>
    [...entry.args.matchAll(/(\w+)=(\S+)/g)].map(([, key, value]) => [
      key!,
      value!.replaceAll("/app", app).replace("$PATH", process.env.PATH!),
    ]),
  ),
);

let redis: RedisServer;

beforeAll(async () => {
  const install = stages.find((stage) => stage.name === "install")!;
  for (const { instruction, args } of install.steps) {
    if (instruction === "COPY") {
      const parts = args.split(/\s+/);
      const destination = join(app, parts.pop()!);
      for (const source of parts) {
        const target =
          parts.length > 1 || destination.endsWith("/") || args.endsWith("/") ? join(destination, source.split("/").pop()!) : destination;
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(root, source), target, { recursive: true });
      }
    } else if (instruction === "RUN") {
      for (const command of args.split("&&").map((part) => part.trim())) {
        // The image's cache cleanup would empty this machine's npm cache: it changes nothing in /app.
        if (command.startsWith("npm cache clean")) continue;
        expect(command, "a RUN step this test does not know how to replay").toMatch(/^npm ci /);
        const result = spawnSync("sh", ["-c", `${command} --prefer-offline`], { cwd: app, encoding: "utf8" });
        expect(result.status, result.stderr).toBe(0);
      }
    } else {
      expect(["WORKDIR"]).toContain(instruction);
    }
  }
  redis = await startRedis();
}, 180_000);
afterAll(async () => {
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function run(command: string[], env: Record<string, string>) {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: app,
    env: { HOME: scratch, ...imageEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = new Capture();
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => output.write(chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => output.write(chunk));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output, exited };
}

describe("the image, replayed from the Dockerfile", () => {
  it("holds production dependencies only", () => {
    for (const dev of ["typescript", "vitest", "playwright-core", "yaml"])
      expect(existsSync(join(app, "node_modules", dev)), dev).toBe(false);
    expect(existsSync(join(app, "node_modules/tsx"))).toBe(true);
    expect(imageEnv.NODE_ENV).toBe("production");
  });

  it("serves (demo page and its bundles included) with its CMD, passes its HEALTHCHECK, and runs the scrollback CLI from its PATH", async () => {
    const port = String(await freePort());
    const env = { HOST: "127.0.0.1", PORT: port, AUTH_JWT_SECRET: "image-test-secret-of-32-bytes-or-more", REDIS_URL: redis.url };
    const server = run(cmd, env);
    try {
      await server.output.waitFor(/scrollback listening/, 30_000);
      expect(await run(healthcheck, env).exited).toBe(0);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(await ready.json()).toMatchObject({ store: "redis" });
      // The demo page and the scripts it loads (bundled at run time, so their bundler must be in the image).
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      for (const [, src] of html.matchAll(/<script[^>]+src="([^"]+)"/g)) {
        const script = await fetch(new URL(src!, `http://127.0.0.1:${port}/`));
        expect(script.status, src).toBe(200);
      }

      await redis.client().rpush("temp_memory:image_user:messages", '{"content":"hi"}');
      const cli = run(["scrollback", "users", "--json"], env);
      expect(await cli.exited).toBe(0);
      expect(JSON.parse(cli.output.text).users).toContain("image_user");

      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
      expect(await run(healthcheck, env).exited).toBe(1);
    } finally {
      server.child.kill("SIGKILL");
    }
  });

  it("refuses to start in production without a JWT setting, naming it", async () => {
    const server = run(cmd, { HOST: "127.0.0.1", PORT: String(await freePort()), REDIS_URL: redis.url });
    expect(await server.exited).toBe(1);
    expect(server.output.text).toContain("AUTH_JWT_SECRET");
  });
});
