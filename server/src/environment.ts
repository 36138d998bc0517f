/**
 * The environment a scrollback process runs with: `./.env` (when present)
 * overlaid by the real environment variables, which win. Shared by the
 * server's and the operator CLI's entry points, so both read settings alike.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";

/** The variables of `./.env` and of `env` (an entry point passes `process.env`), the latter winning. */
export function readEnvironment(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const fromFile = existsSync(".env") ? parseEnv(readFileSync(".env", "utf8")) : {};
  return { ...fromFile, ...env };
}
