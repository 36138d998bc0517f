/**
 * The example assistants (README "Inbox assistants") and how to start one
 * from the repository's root, as `npm run dev:cluster -- --assistant` and
 * the tests that run them do.
 */
import { existsSync } from "node:fs";

export const EXAMPLE_ASSISTANTS = { python: "examples/python/assistant.py", node: "examples/node/assistant.mjs" } as const;
export type AssistantLanguage = keyof typeof EXAMPLE_ASSISTANTS;

/** Debian's python3 has python3-redis; a python3 earlier on the PATH (pyenv …) may not. */
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** The command and arguments that run the `language` example, in the repository's root. */
export function assistantCommand(language: AssistantLanguage): [command: string, args: string[]] {
  const file = EXAMPLE_ASSISTANTS[language];
  // The Node one imports the SDK, which is TypeScript source in this repository.
  return language === "python"
    ? [PYTHON, [file]]
    : [process.execPath, ["--conditions=@scrollback/source", "--import", import.meta.resolve("tsx"), file]];
}
