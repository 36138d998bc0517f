/** What every CLI command gets, and what it is. */
import type { Config } from "../config.js";
import type { RedisClient } from "../redis-connections.js";
import type { Output } from "./output.js";

export interface CommandContext {
  config: Readonly<Config>;
  out: Output;
  /** The command's positional arguments, e.g. the user id. */
  args: string[];
  /** `--replica` values (stats). */
  replicas: string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Aborted on Ctrl-C / SIGTERM: long-running commands (tail) stop then. */
  signal: AbortSignal;
  /** A connected Redis client of that role (see redis-connections.ts); closed when the command ends. */
  connect(role: "data" | "pub" | "sub"): Promise<RedisClient>;
}

export interface Command {
  name: string;
  /** The positional arguments it takes, as shown in the help ("<user>"). */
  usage: string;
  summary: string;
  /** Options it accepts besides the global ones. */
  options?: readonly "replica"[];
  /** Resolves with the exit code (0 unless a problem was reported), or throws a CliError. */
  run(context: CommandContext): Promise<number>;
}
