/**
 * `scrollback export <user>`: everything kept for a user as one JSON
 * document, for data requests. Unreadable elements are included as stored:
 * they are data held about the user too.
 */
import type { Command } from "../command.js";
import { readHistory } from "../history-snapshot.js";
import { userArgument } from "../user-argument.js";

/** Names the document's shape, so a later change can be told apart. */
export const EXPORT_FORMAT = "scrollback-export/1";

export const exportCommand: Command = {
  name: "export",
  usage: "<user>",
  summary: "everything kept for a user, as one JSON document (data requests)",
  async run({ connect, config, out, args }) {
    const client = await connect("data");
    const history = await readHistory(client, config.keyPrefix, userArgument(exportCommand, args));
    const now = Date.now();
    const document = {
      format: EXPORT_FORMAT,
      userId: history.userId,
      key: history.key,
      exportedAt: new Date(now).toISOString(),
      expiresAt: history.ttlSeconds === null ? null : new Date(now + history.ttlSeconds * 1000).toISOString(),
      messages: history.messages,
      unreadableElements: history.unreadable,
    };
    // The document is the result either way: indented for people, one line with --json.
    out.value(document, out.json ? undefined : 2);
    if (!history.exists) out.note(`no history is kept for "${history.userId}"`);
    return 0;
  },
};
