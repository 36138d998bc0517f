/**
 * @scrollback/client — the typed SDK for scrollback (PROTOCOL.md): one
 * user's recent chat history, live across tabs and replicas, with an outbox
 * that stores every message exactly once through reconnects and outages.
 * The protocol's types and error codes are re-exported; its zod schemas are
 * not (they live at `@scrollback/client/protocol/schemas`, for servers).
 */
export { connect, ScrollbackClient } from "./client.js";
export { DEFAULT_DRAFT_IDLE_MS } from "./drafts.js";
export type { KeyValueStorage, PendingMessage } from "./outbox.js";
// The protocol's types, error codes and id maker; its id patterns stay at
// `@scrollback/client/protocol`, so the SDK's own exports do not grow.
export * from "./protocol/errors.js";
export * from "./protocol/events.js";
export { createMessageId } from "./protocol/ids.js";
export { type ClientErrorCode, ScrollbackError } from "./scrollback-error.js";
export {
  EMPTY_SNAPSHOT,
  type PendingEntry,
  type PendingState,
  type ScrollbackSnapshot,
  SNAPSHOT_FAILED_KEPT,
  SNAPSHOT_MESSAGES_KEPT,
} from "./snapshot.js";
export type { BackoffOptions } from "./timing.js";
export type {
  AddInput,
  CallOptions,
  ClientEvents,
  CloseOptions,
  ConnectionOptions,
  ConnectionStatus,
  ConnectOptions,
  Credentials,
  DraftAppendOptions,
  DraftEndReason,
  LiveDraft,
  TokenSource,
} from "./types.js";
