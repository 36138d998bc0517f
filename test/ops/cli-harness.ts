/**
 * Running the operator CLI in tests: in-process through runCli (the same
 * function bin.js ends up calling), with its output captured and awaitable.
 */
import type { Message } from "@scrollback/client/protocol";
import type { RedisFigures } from "../../server/src/cli/commands/stats.js";
import type { ReplicaStats } from "../../server/src/cli/replicas.js";
import { runCli } from "../../server/src/cli/run.js";

/** A writable that keeps what it was given and can wait for a pattern. */
export class Capture {
  text = "";
  private waiters: { pattern: RegExp; resolve: () => void }[] = [];

  write(chunk: string): boolean {
    this.text += chunk;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.pattern.test(this.text)) return true;
      waiter.resolve();
      return false;
    });
    return true;
  }

  /** Resolves once the captured text matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    if (pattern.test(this.text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms in:\n${this.text}`)), timeoutMs);
      this.waiters.push({
        pattern,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Each line parsed as JSON. */
  jsonLines<T = unknown>(): T[] {
    return this.text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as T);
  }
}

export interface CliRun {
  code: Promise<number>;
  stdout: Capture;
  stderr: Capture;
  /** Ctrl-C. */
  stop(): void;
}

/** Starts `scrollback ...args` with `env` (nothing from this process's environment). */
export function startCli(args: string[], env: Record<string, string>): CliRun {
  const stdout = new Capture();
  const stderr = new Capture();
  const controller = new AbortController();
  const code = runCli(args, { env, streams: { stdout, stderr }, signal: controller.signal });
  return { code, stdout, stderr, stop: () => controller.abort() };
}

/** What each command prints as JSON: with `--json`, and `export` always. */
export interface CliJson {
  users: { users: string[]; count: number };
  show: {
    userId: string;
    key: string;
    ttlSeconds: number | null;
    memoryBytes: number | null;
    elements: number;
    unreadableElements: number;
    messages: Message[];
  };
  clear: { userId: string; removed: number; notified: boolean };
  export: {
    format: string;
    userId: string;
    key: string;
    exportedAt: string;
    expiresAt: string | null;
    messages: Message[];
    unreadableElements: string[];
  };
  stats: { redis: RedisFigures & { target: string }; replicas: ReplicaStats[] };
}

/** The JSON that `scrollback ...args` prints: its command's {@link CliJson}, or `unknown` for anything else. */
type JsonOf<Args extends readonly string[]> = Args extends readonly [infer Name extends keyof CliJson, ...string[]]
  ? CliJson[Name]
  : unknown;

/**
 * Runs `scrollback ...args` to its end. `json` is stdout parsed, typed by the
 * command name in `args[0]`; it is undefined when stdout is not JSON.
 */
export async function cli<const Args extends readonly string[]>(
  args: Args,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string; json: JsonOf<Args> }> {
  const run = startCli([...args], env);
  const code = await run.code;
  const stdout = run.stdout.text;
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr: run.stderr.text, json: json as JsonOf<Args> };
}
