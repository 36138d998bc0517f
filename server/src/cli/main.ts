/**
 * Entry point of the operator CLI (`npx scrollback …`, via bin.js): reads the
 * environment as the server does, runs one command, exits with its code.
 */
import { readEnvironment } from "../environment.js";
import { runCli } from "./run.js";

/** After Ctrl-C, a command that has not stopped by itself within this long is cut short. */
const STOP_LIMIT_MS = 3_000;

const controller = new AbortController();
const stop = () => {
  if (controller.signal.aborted) return;
  controller.abort();
  setTimeout(() => process.exit(130), STOP_LIMIT_MS).unref();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

const code = await runCli(process.argv.slice(2), {
  env: readEnvironment(process.env),
  streams: process,
  signal: controller.signal,
});
// Exit once stdout has taken everything written (a pipe may be slower than us).
process.stdout.write("", () => process.exit(code));
