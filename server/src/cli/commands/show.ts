/** `scrollback show <user>`: a user's kept messages, TTL and size. */
import { CliError } from "../cli-error.js";
import type { Command } from "../command.js";
import { readHistory } from "../history-snapshot.js";
import { columns, formatBytes, formatDuration } from "../output.js";
import { userArgument } from "../user-argument.js";

export const showCommand: Command = {
  name: "show",
  usage: "<user>",
  summary: "a user's messages, TTL and size",
  async run({ connect, config, out, args }) {
    const client = await connect("data");
    const history = await readHistory(client, config.keyPrefix, userArgument(showCommand, args));
    if (!history.exists)
      throw new CliError("NOT_FOUND", `no history for "${history.userId}" (${history.key} does not exist or has expired)`);

    if (out.json) {
      out.value({
        userId: history.userId,
        key: history.key,
        ttlSeconds: history.ttlSeconds,
        memoryBytes: history.memoryBytes,
        elements: history.messages.length + history.unreadable.length,
        unreadableElements: history.unreadable.length,
        messages: history.messages,
      });
      return 0;
    }
    const elements = history.messages.length + history.unreadable.length;
    const unreadable = history.unreadable.length > 0 ? `, ${history.unreadable.length} unreadable (skipped when served)` : "";
    for (const line of columns([
      ["user", history.userId],
      ["key", history.key],
      ["messages", `${history.messages.length}${unreadable}`],
      ["expires", history.ttlSeconds === null ? "never (the key has no TTL)" : `in ${formatDuration(history.ttlSeconds)}`],
      [
        "size",
        `${elements} element${elements === 1 ? "" : "s"}${history.memoryBytes === null ? "" : `, ${formatBytes(history.memoryBytes)} in Redis`}`,
      ],
    ])) {
      out.line(line);
    }
    out.line();
    for (const line of columns(history.messages.map((message) => [message.timestamp ?? "-", message.role, message.content]))) {
      out.line(line);
    }
    return 0;
  },
};
