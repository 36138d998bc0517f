/**
 * Real scrollback servers for tests: in-process instances (each with its own
 * Redis connections and adapter, as separate replicas have) and child
 * processes (for signals and crashes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { freePort } from "../../dev/free-port.js";
import { createApp, type ScrollbackApp } from "../../server/src/app.js";
import { loadConfig } from "../../server/src/config.js";

export interface TestServer {
  app: ScrollbackApp;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Environment shared by test servers: loopback, quiet, no rate limit unless asked. */
const BASE_ENV = { HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", RATE_LIMIT_PER_SECOND: "0" };

/** Starts one server in this process. `env` uses the variable names of PROTOCOL.md §1. */
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({ ...BASE_ENV, ...env });
  const app = await createApp(config, pino({ level: config.logLevel }));
  const port = await app.listen();
  return { app, port, url: `http://127.0.0.1:${port}`, close: () => app.close(1_000) };
}

/** Starts `count` replicas sharing one Redis. */
export async function startReplicas(count: number, env: Record<string, string>): Promise<TestServer[]> {
  return Promise.all(Array.from({ length: count }, () => startServer(env)));
}

export interface ServerProcess {
  port: number;
  url: string;
  process: ChildProcess;
  /** Everything the process printed. */
  output(): string;
  /** Resolves with the exit code (or signal name) once it exits. */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL("../../server/src/main.ts", import.meta.url));
// By URL, so the child finds tsx whatever its working directory.
const TSX_LOADER = import.meta.resolve("tsx");

export interface SpawnOptions {
  cwd?: string;
  /** The Node.js executable (default: the one running the tests). */
  node?: string;
  /** Run the build output (`npm run start:built`, server/dist/main.js) instead of the sources through tsx (`npm start`). */
  built?: boolean;
}

const BUILT_MAIN = fileURLToPath(new URL("../../server/dist/main.js", import.meta.url));

/** Starts `npm start`'s entry point (or the built one) as a child process and waits until it listens. */
export async function spawnServer(env: Record<string, string> = {}, options: SpawnOptions = {}): Promise<ServerProcess> {
  // A given PORT (a restart on the same port) is the one to wait on.
  const port = env.PORT && env.PORT !== "0" ? Number(env.PORT) : await freePort();
  let output = "";
  const args = options.built ? ["--enable-source-maps", BUILT_MAIN] : ["--conditions=@scrollback/source", "--import", TSX_LOADER, MAIN];
  const child = spawn(options.node ?? process.execPath, args, {
    env: { ...process.env, ...BASE_ENV, LOG_LEVEL: "info", ...env, PORT: env.PORT ?? String(port) },
    stdio: ["ignore", "pipe", "pipe"],
    cwd: options.cwd,
  });
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  // Ready when /healthz answers, whatever LOG_LEVEL hides.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exitedEarly) throw new Error(`server exited before listening:\n${output}`);
    if (Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
