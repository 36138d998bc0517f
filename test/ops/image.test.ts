/**
 * The Dockerfile, carried out without Docker (there is no engine here): each
 * stage's COPY (from the build context or, with --from, an earlier stage)
 * and RUN steps (`npm ci`, `npm run build`) replayed into a temp dir standing
 * for that stage's /app, then the runtime stage's CMD, HEALTHCHECK and PATH
 * used as the image would. This proves the runtime stage's file set (the
 * build output and production-only dependencies, no tsx or esbuild) is
 * enough to serve the page and its content-hashed assets, pass the health
 * check and run the operator CLI.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { startServer } from "../support/servers.js";
import { Capture } from "./cli-harness.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "scrollback-image-"));
/** Each stage's /app, by stage name. */
const stageDir = (name: string) => join(scratch, name);

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
const app = stageDir(runtime.name!);
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
/** Seconds each stage's RUN steps took (npm ci, npm run build). */
const runSeconds: Record<string, number> = {};

/** `COPY [--from=stage] source… destination`, with Docker's rules for where a source lands. */
function replayCopy(stage: string, args: string): void {
  const parts = args.split(/\s+/);
  const from = parts[0]!.startsWith("--from=") ? parts.shift()!.slice("--from=".length) : undefined;
  const destinationArg = parts.pop()!;
  const destination = join(stageDir(stage), destinationArg);
  for (const source of parts) {
    const origin = from ? join(stageDir(from), source.replace(/^\/app\//, "")) : join(root, source);
    expect(existsSync(origin), `COPY ${args}: ${origin}`).toBe(true);
    const intoDirectory = parts.length > 1 || destinationArg.endsWith("/");
    const target = intoDirectory ? join(destination, basename(source)) : destination;
    mkdirSync(dirname(target), { recursive: true });
    // Relative symlinks (node_modules/.bin, workspace links, bin/scrollback) stay relative, as Docker keeps them.
    cpSync(origin, target, { recursive: true, verbatimSymlinks: true });
  }
}

/** `RUN a && b`: the npm steps run in the stage's dir; the steps on the base image's own files are checked and skipped. */
function replayRun(stage: string, args: string): void {
  const { NODE_ENV: _vitestSetsIt, ...env } = process.env;
  for (const command of args.split("&&").map((part) => part.trim())) {
    // The image's cache cleanup would empty this machine's npm cache: it changes nothing in /app.
    if (command.startsWith("npm cache clean")) continue;
    // Removing npm and yarn from the base image's /usr/local and /opt: nothing of /app.
    if (command.startsWith("rm -rf ")) {
      for (const path of command.slice("rm -rf ".length).split(/\s+/)) expect(path).toMatch(/^\/(usr\/local|opt)\//);
      continue;
    }
    expect(command, "a RUN step this test does not know how to replay").toMatch(/^npm (ci|run build)\b/);
    const started = performance.now();
    const offline = command.startsWith("npm ci") ? " --prefer-offline" : "";
    const result = spawnSync("sh", ["-c", `${command}${offline}`], { cwd: stageDir(stage), env, encoding: "utf8" });
    expect(result.status, `${command}: ${result.stderr}`).toBe(0);
    runSeconds[stage] = (runSeconds[stage] ?? 0) + (performance.now() - started) / 1000;
  }
}

beforeAll(async () => {
  for (const stage of stages) {
    expect(stage.name, "every stage is named (COPY --from needs it)").toBeTruthy();
    mkdirSync(stageDir(stage.name!), { recursive: true });
    for (const { instruction, args } of stage.steps) {
      if (instruction === "COPY") replayCopy(stage.name!, args);
      else if (instruction === "RUN") replayRun(stage.name!, args);
      else if (instruction === "WORKDIR") expect(args).toBe("/app");
      else expect(["ENV", "USER", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "CMD"]).toContain(instruction);
    }
  }
  process.stdout.write(
    `image stages replayed; RUN steps took ${JSON.stringify(runSeconds, (_key, value) => (typeof value === "number" ? Number(value.toFixed(1)) : value))} s\n`,
  );
  redis = await startRedis();
}, 300_000);
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

/** Every directory under `dir` (symlinks not followed) whose name is one of `names`. */
function findDirectories(dir: string, names: readonly string[]): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => names.includes(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The `/widget/…` paths a page's `<script src>` and `<link href>` load. */
function widgetReferences(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="(\/widget\/[^"]+)"/g)].map(([, path]) => path!);
}

describe("the image, replayed from the Dockerfile", () => {
  it("holds the build output and production dependencies only: no sources, no tsx, no esbuild", () => {
    expect(readdirSync(app).sort()).toEqual(["node_modules", "package.json", "server"]);
    expect(readdirSync(join(app, "server")).sort()).toEqual(["dist", "package.json"]);
    for (const dev of ["typescript", "vitest", "playwright-core", "yaml", "tsx", "esbuild", "@esbuild", "socket.io-client"])
      expect(existsSync(join(app, "node_modules", dev)), dev).toBe(false);
    // Nor nested anywhere, nor on the PATH.
    expect(findDirectories(join(app, "node_modules"), ["tsx", "esbuild", "@esbuild", "typescript"])).toEqual([]);
    expect(readdirSync(join(app, "node_modules/.bin")).filter((bin) => /^(tsx|esbuild|tsc)$/.test(bin))).toEqual([]);
    // While the build stage had them: the build needs them and only the build.
    expect(existsSync(join(stageDir("build"), "node_modules/esbuild"))).toBe(true);
    expect(existsSync(join(stageDir("build"), "node_modules/tsx"))).toBe(true);
    expect(cmd).toEqual(["node", "--enable-source-maps", "server/dist/main.js"]);
    expect(imageEnv.NODE_ENV).toBe("production");
  });

  it("serves the page naming content-hashed assets (cached for a year) with its CMD, passes its HEALTHCHECK, and runs the scrollback CLI from its PATH", async () => {
    const port = String(await freePort());
    const env = { HOST: "127.0.0.1", PORT: port, AUTH_JWT_SECRET: "image-test-secret-of-32-bytes-or-more", REDIS_URL: redis.url };
    const base = `http://127.0.0.1:${port}`;
    const server = run(cmd, env);
    try {
      await server.output.waitFor(/scrollback listening/, 30_000);
      expect(await run(healthcheck, env).exited).toBe(0);
      const ready = await fetch(`${base}/readyz`);
      expect(await ready.json()).toMatchObject({ store: "redis" });

      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("cache-control")).toBe("no-cache");
      const html = await page.text();
      const manifest = JSON.parse(readFileSync(join(app, "server/dist/widget/manifest.json"), "utf8")) as {
        assets: Record<string, string>;
      };
      expect(Object.keys(manifest.assets)).toEqual(expect.arrayContaining(["/widget/scrollback.js", "/widget/app.js", "/widget/app.css"]));
      // The page loads its assets by their hashed names only.
      const referenced = widgetReferences(html);
      expect(referenced.length).toBeGreaterThan(0);
      for (const path of referenced) expect(Object.values(manifest.assets)).toContain(path);
      for (const [plain, hashed] of Object.entries(manifest.assets)) {
        const immutable = await fetch(`${base}${hashed}`);
        expect(immutable.status, hashed).toBe(200);
        expect(immutable.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
        const body = await immutable.text();
        // The name is the content's hash, so a new build of changed content gets a new name.
        expect(hashed).toContain(`.${createHash("sha256").update(body).digest("hex").slice(0, 8)}.`);
        // The plain name (what other sites' <script> tags load) answers the same content, revalidated each time.
        const revalidated = await fetch(`${base}${plain}`);
        expect(revalidated.headers.get("cache-control")).toBe("no-cache");
        expect(revalidated.headers.get("content-type")).toBe(immutable.headers.get("content-type"));
        expect(await revalidated.text()).toBe(body);
      }
      expect((await fetch(`${base}/widget/app.00000000.js`)).status).toBe(404);

      await redis.client().rpush("temp_memory:image_user:messages", '{"content":"hi"}');
      // The CLI reads as its own read-only Redis user (dev/redis-acl.ts).
      const cli = run(["scrollback", "users", "--json"], { ...env, REDIS_URL: redis.cliUrl });
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

describe("the same server from its sources (npm start, no build)", () => {
  it("bundles the assets on request under their plain names only, no-cache", async () => {
    const server = await startServer({ STORE: "memory", AUTH_MODE: "dev" });
    try {
      const html = await (await fetch(`${server.url}/`)).text();
      const manifest = JSON.parse(readFileSync(join(app, "server/dist/widget/manifest.json"), "utf8")) as {
        assets: Record<string, string>;
      };
      const referenced = widgetReferences(html);
      expect(referenced.length).toBeGreaterThan(0);
      for (const path of referenced) expect(Object.keys(manifest.assets)).toContain(path);
      for (const [plain, hashed] of Object.entries(manifest.assets)) {
        const asset = await fetch(`${server.url}${plain}`);
        expect(asset.status, plain).toBe(200);
        expect(asset.headers.get("cache-control")).toBe("no-cache");
        // What the build wrote under the hashed name is what the sources bundle now.
        expect(await asset.text()).toBe(readFileSync(join(app, "server/dist", hashed), "utf8"));
        expect((await fetch(`${server.url}${hashed}`)).status, hashed).toBe(404);
      }
    } finally {
      await server.close();
    }
  });
});
