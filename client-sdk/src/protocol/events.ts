/**
 * The Socket.IO events of protocol v1 (PROTOCOL.md §4), typed once.
 * The server uses these maps as `Server<ClientToServerEvents, ServerToClientEvents>`,
 * the SDK as `Socket<ServerToClientEvents, ClientToServerEvents>`.
 */
import type { ErrorBody } from "./errors.js";

/** Who wrote a message. */
export type Role = "user" | "assistant" | "system";

/** Free-form, flat metadata attached to a message (at most 32 keys). */
export type MessageMeta = { [key: string]: string | number | boolean | null };

/** One kept message, as every event and HTTP answer carries it. */
export interface Message {
  id: string;
  userId: string;
  role: Role;
  content: string;
  /** ISO 8601 UTC from the server's clock; foreign elements may carry their own string, or null. */
  timestamp: string | null;
  meta?: MessageMeta;
}

/** `message:add` payload. `id` is the client's idempotency key. */
export interface AddMessagePayload {
  id?: string;
  role?: Role;
  content: string;
  meta?: MessageMeta;
}

/** `history:load` payload. */
export interface LoadHistoryPayload {
  limit?: number;
  afterId?: string;
}

/** `history:search` payload. */
export interface SearchHistoryPayload {
  query: string;
  role?: Role;
  limit?: number;
}

/** `history:clear` payload. */
export type ClearHistoryPayload = Record<string, never>;

/**
 * A reply being streamed (PROTOCOL.md §4, Drafts): the text so far of the
 * message that will be stored under `id`. Never part of the kept window.
 */
export interface Draft {
  id: string;
  role: Role;
  content: string;
  /** How many chunks it has: the last `draft:update` applied has this `seq`. */
  seq: number;
  /** When the last chunk landed, in ms since the epoch (the store's clock). */
  updatedAt: number;
}

/** `draft:append` payload: one more chunk of the reply that will be stored under `id`. */
export interface DraftAppendPayload {
  id: string;
  role?: Role;
  chunk: string;
}

/** `draft:discard` payload. */
export interface DraftDiscardPayload {
  id: string;
}

/** `draft:update`: one chunk, to append when `seq` is one more than the draft's (or 1 for a new draft). */
export interface DraftUpdate {
  id: string;
  role: Role;
  seq: number;
  chunk: string;
  /** Drop the draft when no update came for this long (DRAFT_IDLE_MS). */
  idleMs: number;
}

/** What a `draft:append` ack and the HTTP API say of the draft after the chunk. */
export interface DraftState {
  id: string;
  seq: number;
  /** `content`'s length in UTF-8 bytes. */
  length: number;
}

/** A refused request. */
export interface AckError {
  ok: false;
  error: ErrorBody;
}

/** What every acknowledgement is: `{ ok: true, ...T }` or an {@link AckError}. */
export type Ack<T> = ({ ok: true } & T) | AckError;

export type AddMessageAck = Ack<{ message: Message; duplicate: boolean }>;
export type LoadHistoryAck = Ack<{ messages: Message[]; gap: boolean; drafts: Draft[] }>;
export type SearchHistoryAck = Ack<{ messages: Message[] }>;
export type ClearHistoryAck = Ack<{ removed: number }>;
export type DraftAppendAck = Ack<{ draft: DraftState }>;
export type DraftDiscardAck = Ack<{ discarded: boolean }>;

/** Events a client sends; each takes an ack callback last. */
export interface ClientToServerEvents {
  "message:add": (payload: AddMessagePayload, ack: (answer: AddMessageAck) => void) => void;
  "history:load": (payload: LoadHistoryPayload, ack: (answer: LoadHistoryAck) => void) => void;
  "history:search": (payload: SearchHistoryPayload, ack: (answer: SearchHistoryAck) => void) => void;
  "history:clear": (payload: ClearHistoryPayload, ack: (answer: ClearHistoryAck) => void) => void;
  "draft:append": (payload: DraftAppendPayload, ack: (answer: DraftAppendAck) => void) => void;
  "draft:discard": (payload: DraftDiscardPayload, ack: (answer: DraftDiscardAck) => void) => void;
}

/** Events the server sends to a user's connections. */
export interface ServerToClientEvents {
  "message:new": (message: Message) => void;
  "history:cleared": (payload: Record<string, never>) => void;
  "auth:expired": (payload: Record<string, never>) => void;
  "draft:update": (update: DraftUpdate) => void;
  "draft:discarded": (payload: { id: string }) => void;
}

/** The names of the client events, for routing and for refusing unknown ones. */
export const CLIENT_EVENTS = ["message:add", "history:load", "history:search", "history:clear", "draft:append", "draft:discard"] as const;

/** One of {@link CLIENT_EVENTS}. */
export type ClientEventName = (typeof CLIENT_EVENTS)[number];
