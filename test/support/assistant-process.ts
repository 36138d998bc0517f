/**
 * The README's example assistants (examples/python/assistant.py,
 * examples/node/assistant.mjs) as child processes, started as the README
 * says and watched through what they print.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type AssistantLanguage, assistantCommand, EXAMPLE_ASSISTANTS } from "../../dev/example-assistants.js";
import { until } from "./wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface AssistantProcess {
  process: ChildProcess;
  /** Everything it printed. */
  output(): string;
  /** Resolves once it printed something matching `pattern`. */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Signals it (SIGKILL unless told) if it still runs, and waits until it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface AssistantOptions {
  /** Its whole environment besides PATH: SCROLLBACK_URL, REDIS_URL, INBOX_STREAM… */
  env: Record<string, string>;
  /** Holds it from its start until it is killed, for the suite to kill what is left. */
  running: Set<AssistantProcess>;
  /** The default wait of `printed`, its start's included. */
  printTimeoutMs: number;
}

/** Starts the `language` example assistant and waits until it prints that it listens. */
export async function startAssistant(language: AssistantLanguage, options: AssistantOptions): Promise<AssistantProcess> {
  const file = EXAMPLE_ASSISTANTS[language];
  const [command, args] = assistantCommand(language);
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const assistant: AssistantProcess = {
    process: child,
    output: () => output,
    printed: (pattern, timeoutMs = options.printTimeoutMs) =>
      until(`${file} printed ${pattern}; it printed:\n${output}`, () => pattern.test(output), timeoutMs, 20),
    kill: async (signal = "SIGKILL") => {
      options.running.delete(assistant);
      // Only the process this suite spawned, by its own handle.
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  options.running.add(assistant);
  await assistant.printed(/listening on/);
  return assistant;
}
