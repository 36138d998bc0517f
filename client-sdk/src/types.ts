/**
 * The SDK's public types: what `connect` takes, what the client's methods
 * take, and the events it emits.
 */
import type { ManagerOptions, SocketOptions } from "socket.io-client";
import type { KeyValueStorage, PendingMessage } from "./outbox.js";
import type { Message, MessageMeta, Role } from "./protocol/events.js";
import type { ScrollbackError } from "./scrollback-error.js";
import type { BackoffOptions } from "./timing.js";

/** Where the client's connection stands. */
export type ConnectionStatus = "connecting" | "online" | "offline" | "unauthorized";

/** A JWT, or a function that returns a fresh one (called before every connection attempt). */
export type TokenSource = string | (() => string | Promise<string>);

/** Who the client is: a token (or token function), or in dev mode a plain userId; never both. */
export type Credentials = { token: TokenSource; userId?: never } | { userId: string; token?: never };

/** Everything `connect` takes besides the credentials. */
export interface ConnectionOptions {
  /** Socket.IO transports; WebSocket only by default, so no sticky sessions are needed. */
  transports?: ("websocket" | "polling" | "webtransport")[];
  /** How long to wait for a connection, and for each answer, before treating the replica as gone (default 8000). */
  ackTimeoutMs?: number;
  /** How long `load`, `search` and `clear` may take, waiting for a connection included (default 15000). */
  requestTimeoutMs?: number;
  /** Delays between reconnects and between retries of refused sends (default 250 ms doubling to 10 s, jittered). */
  backoff?: Partial<BackoffOptions>;
  /**
   * Keep unsent messages across page reloads: `true` uses `localStorage`.
   * Entries are kept per user (dev userId or the token's `sub`).
   */
  persist?: boolean | { storage?: KeyValueStorage; keyPrefix?: string };
  /** After each (re)connect, load what was missed and emit it (default true). */
  catchUp?: boolean;
  /** Anything else for socket.io-client (`path`, `extraHeaders` in Node…); reconnection stays the SDK's. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/**
 * Options of {@link connect}: `token` — the user's JWT (PROTOCOL.md §3) or a
 * function returning one, called on every (re)connect so an expired token is
 * replaced — or, in dev mode (`AUTH_MODE=dev`), `userId`; plus {@link ConnectionOptions}.
 */
export type ConnectOptions = Credentials & ConnectionOptions;

/** What `add` takes: the `message:add` payload, `id` optional. */
export interface AddInput {
  content: string;
  role?: Role;
  meta?: MessageMeta;
  /** The idempotency key; a ULID is assigned when omitted. */
  id?: string;
}

/** How long a caller is willing to wait. */
export interface CallOptions {
  /** Give up when this aborts; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Give up after this long; the promise rejects with a `TIMEOUT` {@link ScrollbackError}. */
  timeoutMs?: number;
}

/**
 * A reply being streamed, as the client shows it: the text so far of the
 * message that will be stored under `id`. Frozen; a new object each time it grows.
 */
export interface LiveDraft {
  readonly id: string;
  readonly role: Role;
  /** The text so far. */
  readonly content: string;
  /** How many chunks it has. */
  readonly seq: number;
}

/** Why a draft left: its message is shown (`stored`), it was discarded (or a reload no longer had it), or it went `idle`. */
export type DraftEndReason = "stored" | "discarded" | "idle";

/** What `appendDraft` takes besides the id and the chunk. */
export interface DraftAppendOptions extends CallOptions {
  /** Who writes the reply (default `assistant`); a draft keeps the role of its first chunk. */
  role?: Role;
}

/** What `close` takes. */
export interface CloseOptions {
  /**
   * Delete the user's persisted outbox (`persist`) too: messages not yet
   * stored are then never sent, by this page or a later one. Default false.
   */
  discardOutbox?: boolean;
}

/** The client's events. */
export interface ClientEvents {
  /** A message this client had not seen, once, in the history's order: live, caught up after a reconnect, or its own once stored. */
  message: (message: Message) => void;
  /**
   * The whole kept window replaces what was shown: on first connect, after a
   * reconnect that missed too much (`gap`), and when a missed message belongs
   * before one already shown (another tab's, stored just before this client's own add).
   */
  reset: (messages: Message[]) => void;
  /** The user's history was cleared (here or on another connection). */
  cleared: () => void;
  /** `online` once connected and caught up; `offline` between attempts; `unauthorized` when credentials are refused. */
  status: (status: ConnectionStatus) => void;
  /** A failure no promise reports: a restored message refused, a refused connection, a failed catch-up. */
  error: (error: ScrollbackError) => void;
  /** The outbox changed; `pending` are the messages not yet stored, oldest first. */
  outbox: (pending: PendingMessage[]) => void;
  /**
   * A reply being streamed (PROTOCOL.md §4, Drafts) started or grew, here or
   * on a load: `draft` is its text so far. Emitted in the order chunks were
   * applied; never for an id whose message is shown.
   */
  draft: (draft: LiveDraft) => void;
  /**
   * A draft left: its message is shown (`stored`, the `message` event came
   * just before), it was `discarded` (or a reload no longer had it), or no
   * update reached it for its `idleMs` (`idle`).
   */
  draftEnd: (id: string, reason: DraftEndReason) => void;
}
