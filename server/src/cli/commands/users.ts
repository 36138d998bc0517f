/** `scrollback users`: the user ids that have a history, found with SCAN. */
import type { Command } from "../command.js";
import { scanUserIds } from "../keyspace.js";
import { redisFailure } from "../redis-client.js";

export const usersCommand: Command = {
  name: "users",
  usage: "",
  summary: "list the user ids that have a history (SCAN, never KEYS)",
  async run({ connect, config, out }) {
    const client = await connect("data");
    const users = await scanUserIds(client, config.keyPrefix).catch((error: unknown) => {
      throw redisFailure(error, "scanning users");
    });
    if (out.json) {
      out.value({ users, count: users.length });
    } else {
      // Ids alone on stdout, so the list pipes into other commands; the count goes to stderr.
      for (const id of users) out.line(id);
      out.note(`${users.length} user${users.length === 1 ? "" : "s"} with history under "${config.keyPrefix}:"`);
    }
    return 0;
  },
};
