/**
 * Order is Redis's order (PROTOCOL.md §4): a user's adds and clears, sent
 * from several replicas at once, must reach every other tab in the order
 * Redis applied them, so each tab ends up showing what Redis holds.
 */
import { nextEvent, requestOk, type TestSocket } from "./clients.js";
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
  /** One writing tab per replica; the first one also clears. */
  writers: TestSocket[];
  /** Tabs that only listen: one on each writer's replica is best. */
  listeners: TestSocket[];
  rounds: number;
  /** Adds each writer sends per round (default 1): more make the interleavings Redis can pick more varied. */
  addsPerRound?: number;
  /** Ids are `<tag>-<round>-<writer>-<n>`, so runs on one Redis stay apart. */
  tag: string;
  /** The ids Redis holds for the user, oldest first. */
  readIds: () => Promise<string[]>;
}

export interface RoundMismatch {
  round: number;
  stored: string[];
  shown: string[][];
}

/**
 * `rounds` times: the first writer sends a clear and, without waiting for its
 * ack, its adds, while every other writer adds at the same time. Once every
 * listener has received every event of the round, each must show what Redis
 * holds; returns the rounds where one did not (none, when order holds).
 * Each round starts with a clear, which would hide an earlier round's
 * mistake: hence a check per round.
 */
export async function interleaveClearsAndAdds(options: InterleaveOptions): Promise<RoundMismatch[]> {
  const { writers, listeners, rounds, tag, addsPerRound = 1, readIds } = options;
  const shown = listeners.map(trackShownIds);
  const mismatches: RoundMismatch[] = [];
  const [clearer] = writers;
  for (let round = 0; round < rounds; round++) {
    const ids = writers.flatMap((_, i) => Array.from({ length: addsPerRound }, (_, n) => `${tag}-${round}-${i}-${n}`));
    const arrivals = listeners.flatMap((listener) => [
      nextEvent(listener, "history:cleared"),
      ...ids.map((id) => messageArrival(listener, id)),
    ]);
    await Promise.all([
      requestOk(clearer!, "history:clear", {}),
      ...ids.map((id) => requestOk(writers[Number(id.split("-").at(-2))]!, "message:add", { id, content: `${id} says hi` })),
    ]);
    await Promise.all(arrivals);
    const stored = await readIds();
    if (shown.some((ids) => ids.join() !== stored.join())) mismatches.push({ round, stored, shown: shown.map((ids) => [...ids]) });
  }
  return mismatches;
}
