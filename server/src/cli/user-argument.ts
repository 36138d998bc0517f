/** The `<user>` argument of the commands that take one. */
import { CliError } from "./cli-error.js";
import type { Command } from "./command.js";

/**
 * The user id a `<user>` command was given. run.ts has already checked there
 * is exactly one and that it is a valid user id, so the throw only fires on a bug.
 */
export function userArgument(command: Pick<Command, "name">, args: readonly string[]): string {
  const [userId] = args;
  if (userId === undefined) throw new CliError("USAGE", `usage: scrollback ${command.name} <user> [--json]`);
  return userId;
}
