/**
 * The read rules of PROTOCOL.md §4 over a decoded window, shared by both
 * stores so that they cannot drift apart.
 */
import type { Message } from "@scrollback/client/protocol";
import type { LoadOptions, SearchOptions, WindowSelection } from "./store.js";

/** `history:load`: after `afterId` (or the whole window with a gap), newest `limit`. */
export function selectWindow(window: Message[], options: LoadOptions = {}): WindowSelection {
  let messages = window;
  let gap = false;
  if (options.afterId !== undefined) {
    const index = window.findIndex((message) => message.id === options.afterId);
    if (index === -1) gap = true;
    else messages = window.slice(index + 1);
  }
  if (options.limit !== undefined && messages.length > options.limit) {
    messages = messages.slice(messages.length - options.limit);
    // Dropping messages that came after afterId leaves the client a hole.
    if (options.afterId !== undefined) gap = true;
  }
  return { messages, gap };
}

/** `history:search`: case-insensitive substring of content, optional role, newest `limit` matches. */
export function searchWindow(window: Message[], options: SearchOptions): Message[] {
  const needle = options.query.toLowerCase();
  const matches = window.filter(
    (message) => (options.role === undefined || message.role === options.role) && message.content.toLowerCase().includes(needle),
  );
  return options.limit !== undefined && matches.length > options.limit ? matches.slice(matches.length - options.limit) : matches;
}
