/**
 * Order is Redis's order (PROTOCOL.md §4): a user's adds and clears, sent
 * from several replicas at once, must reach every other tab in the order
 * Redis applied them, so each tab ends up showing what Redis holds.
 */
import { requestOk, type TestSocket } from "./clients.js";
import { messageArrival } from "./workload.js";

/** A tab's view of its history, kept as the SDK keeps it: `message:new` appends, `history:cleared` empties. */
export function trackShownIds(socket: TestSocket): string[] {
  const shown: string[] = [];
  socket.on("message:new", (message) => {
    if (!shown.includes(message.id)) shown.push(message.id);
  });
  socket.on("history:cleared", () => shown.splice(0));
  return shown;
}

export interface InterleaveOptions {
  /** One writing tab per replica; the first one clears. */
  writers: TestSocket[];
  /** Tabs that only listen, at least one on each writer's replica and one elsewhere is best. */
  listeners: TestSocket[];
  rounds: number;
  /** Ids are `<tag>-<round>-<writer>`, so runs on one Redis stay apart. */
  tag: string;
}

/**
 * `rounds` times: the first writer sends a clear and, without waiting for its
 * ack, an add (Redis applies them in that order: one connection, one data
 * connection on the server), while every other writer adds at the same time.
 * Then each writer adds a last message, and once every listener has seen all
 * of those, returns what each listener shows.
 */
export async function interleaveClearsAndAdds(options: InterleaveOptions): Promise<string[][]> {
  const { writers, listeners, rounds, tag } = options;
  const shown = listeners.map(trackShownIds);
  const [clearer] = writers;
  for (let round = 0; round < rounds; round++) {
    await Promise.all([
      requestOk(clearer!, "history:clear", {}),
      ...writers.map((writer, i) => requestOk(writer, "message:add", { id: `${tag}-${round}-${i}`, content: `round ${round} from writer ${i}` })),
    ]);
  }
  // Sequential, so that these last ids are the last writes: all listeners must have them.
  const lastIds = writers.map((_, i) => `${tag}-last-${i}`);
  const arrivals = listeners.flatMap((listener) => lastIds.map((id) => messageArrival(listener, id)));
  for (const [i, writer] of writers.entries()) await requestOk(writer, "message:add", { id: lastIds[i]!, content: "last" });
  await Promise.all(arrivals);
  return shown;
}
