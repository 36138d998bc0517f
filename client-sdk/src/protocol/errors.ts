/**
 * Every error code a scrollback server answers with (PROTOCOL.md §4, §5).
 * One registry: the server, the SDK and the docs test all read it from here.
 * Most codes travel on both transports; `UNKNOWN_EVENT` and
 * `TOO_MANY_CONNECTIONS` only in Socket.IO answers, `NOT_FOUND` only in HTTP answers.
 */
export const ERROR_CODES = {
  /** A payload that does not match its schema; the message names the field. */
  INVALID_PAYLOAD: "INVALID_PAYLOAD",
  /** `content` over `MAX_MESSAGE_BYTES` UTF-8 bytes, or `meta` over `MAX_META_BYTES` of JSON or with a key over 64 characters (over HTTP: or the body over its limit). */
  TOO_LARGE: "TOO_LARGE",
  /** The user's token bucket on that server is empty (Socket.IO: every event; HTTP: draft chunks only); `retryAfterMs` says when to retry. */
  RATE_LIMITED: "RATE_LIMITED",
  /** The store did not answer within 2 s; the write may or may not be stored, and retrying with the same id is safe. */
  UNAVAILABLE: "UNAVAILABLE",
  /**
   * The store is out of memory (Redis at `maxmemory` with `noeviction`): the
   * add was refused and nothing was stored. Not retryable: sent again at once
   * it gets the same answer until memory is freed (histories expiring, an
   * operator); a later resend with the same id is safe. Reads and clears still work.
   */
  STORE_FULL: "STORE_FULL",
  /** Socket.IO only. An event name the server does not know, sent with an ack. */
  UNKNOWN_EVENT: "UNKNOWN_EVENT",
  /** A refused connection (bad, expired or missing credentials), or a wrong service token over HTTP. */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** HTTP only. No such `/api/v1` route, or the HTTP API is off (`SERVICE_TOKEN` unset). */
  NOT_FOUND: "NOT_FOUND",
  /** Socket.IO only (`connect_error`). The user already has `MAX_CONNECTIONS_PER_USER` open on that server. */
  TOO_MANY_CONNECTIONS: "TOO_MANY_CONNECTIONS",
  /** A draft chunk for an id whose final message is already kept: the reply is over, nothing was changed. */
  DRAFT_CLOSED: "DRAFT_CLOSED",
  /** A new draft while the user already has `MAX_DRAFTS_PER_USER` live ones (another id's). */
  TOO_MANY_DRAFTS: "TOO_MANY_DRAFTS",
  /** Anything unexpected; details stay in the server's log. */
  INTERNAL: "INTERNAL",
} as const;

/** Any code of {@link ERROR_CODES}, whatever the transport. */
export type AnyErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** A code of a Socket.IO answer (an ack's `error`, `connect_error.data`): every code but the HTTP-only `NOT_FOUND`. */
export type ErrorCode = Exclude<AnyErrorCode, typeof ERROR_CODES.NOT_FOUND>;

/** A code of an HTTP API error body (PROTOCOL.md §5): every code but the Socket.IO-only ones. */
export type HttpErrorCode = Exclude<AnyErrorCode, typeof ERROR_CODES.UNKNOWN_EVENT | typeof ERROR_CODES.TOO_MANY_CONNECTIONS>;

/** The `error` of a refused ack and of `connect_error.data`; over HTTP, with an {@link HttpErrorCode}. */
export interface ErrorBody<Code extends AnyErrorCode = ErrorCode> {
  code: Code;
  message: string;
  /** Only with `RATE_LIMITED`: milliseconds until the request would be accepted. */
  retryAfterMs?: number;
}

/** Codes after which the same request, sent again unchanged, can succeed. */
export const RETRYABLE_CODES: ReadonlySet<AnyErrorCode> = new Set<AnyErrorCode>([ERROR_CODES.RATE_LIMITED, ERROR_CODES.UNAVAILABLE]);

/** Whether `value` is a code a Socket.IO answer can carry. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && value !== ERROR_CODES.NOT_FOUND && Object.hasOwn(ERROR_CODES, value);
}
