/**
 * The bench's processes talk over Node's IPC channel (child_process.fork):
 * the orchestrator calls named methods on a child and awaits the answer.
 * Servers and load generators run in their own processes so that each gets
 * its own event loop and its CPU time can be counted on its own.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

interface Call {
  id: number;
  method: string;
  arg: unknown;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

/** A child process running {@link serveMethods}. */
export interface Worker {
  process: ChildProcess;
  /** Calls `method` in the child and resolves with what it returned. */
  call<T = unknown>(method: string, arg?: unknown): Promise<T>;
  /** Resolves once the child has exited (asks it to exit first, then kills it after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

/** Node flags every child needs to run the TypeScript sources directly. */
const SOURCE_FLAGS = ["--conditions=@scrollback/source", "--import", "tsx"];

/**
 * Forks `script` (absolute, or relative to this folder) and resolves once it says it is ready.
 * `nodeFlags` adds flags such as `--cpu-prof` or `--expose-gc`.
 */
export async function startWorker(
  script: string,
  options: { env?: Record<string, string>; nodeFlags?: string[]; label?: string } = {},
): Promise<Worker> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const child = fork(path, [], {
    execArgv: [...SOURCE_FLAGS, ...(options.nodeFlags ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  const label = options.label ?? script;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => {
    for (const { reject } of pending.values()) reject(new Error(`${label} exited`));
    pending.clear();
  });

  await new Promise<void>((resolve, reject) => {
    child.once("message", (message) => ((message as { ready?: boolean }).ready ? resolve() : reject(new Error(`${label}: bad hello`))));
    exited.then(() => reject(new Error(`${label} exited before it was ready`)));
  });
  child.on("message", (message) => {
    const reply = message as Reply;
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.error !== undefined) waiter.reject(new Error(`${label}: ${reply.error}`));
    else waiter.resolve(reply.result);
  });

  return {
    process: child,
    call<T>(method: string, arg?: unknown) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, method, arg } satisfies Call);
      });
    },
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // "exit" lets the child close cleanly, so --cpu-prof can write its profile.
      if (child.connected) child.send({ id: 0, method: "exit", arg: undefined } satisfies Call);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A method a child serves. `never` lets each method declare its own argument type;
 * the argument is whatever the parent passed to `call`, and both ends are this bench.
 */
type Method = (arg: never) => unknown;

/** In a child: answers the parent's calls with `methods`, then says it is ready. */
export function serveMethods(methods: Record<string, Method>, onExit?: () => Promise<void>): void {
  process.on("message", (message) => {
    const { id, method, arg } = message as Call;
    if (method === "exit") {
      Promise.resolve(onExit?.())
        .catch(() => {})
        .finally(() => process.exit(0));
      return;
    }
    const handler = methods[method];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown method ${method}`);
        return (handler as (arg: unknown) => unknown)(arg);
      })
      .then(
        (result) => process.send?.({ id, result } satisfies Reply),
        (error: unknown) => process.send?.({ id, error: error instanceof Error ? error.message : String(error) } satisfies Reply),
      );
  });
  // The parent going away means the bench was interrupted: do not linger.
  process.on("disconnect", () => process.exit(0));
  process.send?.({ ready: true });
}
