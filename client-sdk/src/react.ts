/**
 * @scrollback/client/react — the snapshot of a scrollback client as React
 * state. `react` (18 or later) is an optional peer dependency: only this
 * entry imports it.
 */
import { useCallback, useSyncExternalStore } from "react";
import { EMPTY_SNAPSHOT, type ScrollbackSnapshot } from "./snapshot.js";

/** What {@link useScrollback} reads: a `ScrollbackClient` (or anything with the same two members). */
export interface SnapshotSource {
  getSnapshot(): ScrollbackSnapshot;
  subscribe(listener: () => void): () => void;
}

/**
 * The client's snapshot (messages shown, replies being streamed, messages
 * not stored yet with their state, connection status); the component renders again whenever it
 * changes. With no client (`null` or `undefined`, say before one is made in
 * an effect) it returns {@link EMPTY_SNAPSHOT}. Send with `client.add`: the
 * message shows in `pending` at once, then in `messages` once stored.
 * @example
 * function Chat({ client }: { client: ScrollbackClient }) {
 *   const { status, messages, drafts, pending } = useScrollback(client);
 *   return (
 *     <ul aria-label={status}>
 *       {messages.map((m) => <li key={m.id}>{m.content}</li>)}
 *       {drafts.map((d) => <li key={d.id} aria-busy="true">{d.content}…</li>)}
 *       {pending.map((p) => <li key={p.id}>{p.content} ({p.error?.code ?? p.state})</li>)}
 *     </ul>
 *   );
 * }
 */
export function useScrollback(client: SnapshotSource | null | undefined): ScrollbackSnapshot {
  const subscribe = useCallback((listener: () => void) => client?.subscribe(listener) ?? noop, [client]);
  const getSnapshot = useCallback(() => client?.getSnapshot() ?? EMPTY_SNAPSHOT, [client]);
  // The same function for server rendering: a client made there has a snapshot too (connecting, nothing shown).
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

function noop(): void {}
