/**
 * `scrollback tail <user>`: the user's new messages as they are sent, from
 * every replica (see room-broadcasts.ts for why it listens on Redis rather
 * than connecting as the user).
 */
import { once } from "node:events";
import type { Command } from "../command.js";
import { describeTarget } from "../redis-client.js";
import { type RoomEvent, subscribeToRoom } from "../room-broadcasts.js";

export const tailCommand: Command = {
  name: "tail",
  usage: "<user>",
  summary: "print the user's new messages live, from every replica (Ctrl-C stops)",
  async run({ connect, config, out, args, signal }) {
    // run.ts checked there is exactly one argument, a valid user id.
    const [userId] = args as [string];
    const sub = await connect("sub");
    const print = (event: RoomEvent) => {
      if (out.json) out.value(event.event === "message:new" ? { event: event.event, message: event.payload } : { event: event.event });
      else if (event.event === "message:new") {
        const message = event.payload;
        out.line(`${message.timestamp ?? "-"}  ${message.role.padEnd(9)}  ${message.content}`);
      } else out.line("-- history cleared --");
    };
    const skipped = () => out.note("skipped a message:new broadcast that is not a message");
    const stopListening = await subscribeToRoom(sub, config.keyPrefix, userId, print, skipped);
    // The sub client reconnects and resubscribes by itself; say what was missed meanwhile.
    sub.on("reconnecting", () => out.note("lost Redis; reconnecting (messages sent meanwhile are not shown)"));
    out.note(`tailing "${userId}" on ${describeTarget(config.redis)}; Ctrl-C stops`);
    if (!signal.aborted) await once(signal, "abort");
    stopListening();
    return 0;
  },
};
