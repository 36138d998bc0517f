#!/usr/bin/env node
// `scrollback`: runs the operator CLI from its TypeScript sources exactly as
// `npm start` runs the server (--conditions=@scrollback/source, tsx): no build step.
// The built CLI (`npm run build`; the image's PATH) is server/dist/bin/scrollback instead.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));
const child = spawn(
  process.execPath,
  ["--conditions=@scrollback/source", "--import", import.meta.resolve("tsx"), main, ...process.argv.slice(2)],
  { stdio: "inherit" },
);

// Ctrl-C reaches the child too (same process group); a signal sent to this
// process alone is passed on.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
});
