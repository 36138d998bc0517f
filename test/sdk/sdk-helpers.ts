/** Helpers for SDK tests: wait on the client's own events, never on sleeps. */
import type { ClientEvents, ConnectionStatus, Message, ScrollbackClient } from "@scrollback/client";

/** Resolves once the client's status is `status` (at once if it already is). */
export function waitForStatus(client: ScrollbackClient, status: ConnectionStatus, timeoutMs = 15_000): Promise<void> {
  if (client.status === status) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`status not ${status} within ${timeoutMs} ms (is ${client.status})`));
    }, timeoutMs);
    const off = client.on("status", (now) => {
      if (now !== status) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Resolves with the arguments of the next `event`. */
export function nextClientEvent<E extends keyof ClientEvents>(
  client: ScrollbackClient,
  event: E,
  timeoutMs = 15_000,
): Promise<Parameters<ClientEvents[E]>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on(event, ((...args: Parameters<ClientEvents[E]>) => {
      clearTimeout(timer);
      off();
      resolve(args);
    }) as ClientEvents[E]);
  });
}

/**
 * Records what the client shows: `reset` replaces the list, `message`
 * appends, `cleared` empties it; `emitted` keeps every `message` event.
 */
export function watchTimeline(client: ScrollbackClient): {
  shown: Message[];
  emitted: Message[];
  resets: number;
  untilShown(count: number, timeoutMs?: number): Promise<void>;
} {
  const state = {
    shown: [] as Message[],
    emitted: [] as Message[],
    resets: 0,
    untilShown(count: number, timeoutMs = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (state.shown.length < count) return false;
          clearTimeout(timer);
          for (const off of offs) off();
          resolve();
          return true;
        };
        const timer = setTimeout(() => {
          for (const off of offs) off();
          reject(new Error(`${state.shown.length} of ${count} messages shown within ${timeoutMs} ms`));
        }, timeoutMs);
        const offs = [client.on("message", () => void check()), client.on("reset", () => void check())];
        check();
      });
    },
  };
  client.on("reset", (messages) => {
    state.resets++;
    state.shown = [...messages];
  });
  client.on("message", (message) => {
    state.emitted.push(message);
    state.shown.push(message);
  });
  client.on("cleared", () => (state.shown = []));
  return state;
}

/** The ids of `messages`, for compact assertions. */
export const ids = (messages: { id: string }[]): string[] => messages.map((message) => message.id);

/** The value of `scrollback_events_total{event, outcome}` on a server (0 when absent). */
export async function eventCount(serverUrl: string, event: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${serverUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((row) => row.startsWith("scrollback_events_total{") && row.includes(`event="${event}"`) && row.includes(`outcome="${outcome}"`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

/** A KeyValueStorage in memory, standing in for one browser profile's localStorage across "page loads". */
export function memoryStorage(): {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  map: Map<string, string>;
} {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  };
}
