/**
 * Every error code a scrollback server answers with (PROTOCOL.md §3–§5).
 * One registry: the server, the SDK and the docs test all read it from here.
 */
export const ERROR_CODES = {
  /** A payload that does not match its schema; the message names the field. */
  INVALID_PAYLOAD: "INVALID_PAYLOAD",
  /** `content` is over `MAX_MESSAGE_BYTES` UTF-8 bytes. */
  TOO_LARGE: "TOO_LARGE",
  /** The user's token bucket on that server (shared by their connections) is empty; `retryAfterMs` says when to retry. */
  RATE_LIMITED: "RATE_LIMITED",
  /** The store did not answer within 2 s; retrying with the same id is safe. */
  UNAVAILABLE: "UNAVAILABLE",
  /** An event name the server does not know, sent with an ack. */
  UNKNOWN_EVENT: "UNKNOWN_EVENT",
  /** A refused connection (bad, expired or missing credentials). */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** A refused connection: the user already has `MAX_CONNECTIONS_PER_USER` open on that server. */
  TOO_MANY_CONNECTIONS: "TOO_MANY_CONNECTIONS",
  /** Anything unexpected; details stay in the server's log. */
  INTERNAL: "INTERNAL",
} as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The `error` of a refused ack, of an HTTP error body and of `connect_error.data`. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Only with `RATE_LIMITED`: milliseconds until the request would be accepted. */
  retryAfterMs?: number;
}

/** Codes after which the same request, sent again unchanged, can succeed. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ERROR_CODES.RATE_LIMITED,
  ERROR_CODES.UNAVAILABLE,
]);

/** Whether `value` is one of the known error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}
