/** The one error type the SDK rejects with and emits. */
import { type ErrorBody, type ErrorCode, RETRYABLE_CODES } from "./protocol/errors.js";

/**
 * Codes the SDK produces itself, beside the server's {@link ErrorCode}s:
 * `TIMEOUT` (no answer in time), `CLOSED` (the client was closed first) and
 * `ABORTED` (the caller's signal aborted; a snapshot's `failed` entry of an
 * aborted `add` carries it, the promise rejects with the signal's reason).
 */
export type ClientErrorCode = "TIMEOUT" | "CLOSED" | "ABORTED";

/**
 * A refused or failed request.
 * @example
 * try { await client.add({ content }) } catch (error) {
 *   if (error instanceof ScrollbackError && error.code === "TOO_LARGE") showError("too long");
 * }
 */
export class ScrollbackError extends Error {
  override name = "ScrollbackError";
  /** The server's error code, or one of the SDK's own. */
  readonly code: ErrorCode | ClientErrorCode;
  /** With `RATE_LIMITED`: when the server would accept the request again. */
  readonly retryAfterMs?: number;
  /** For a refused `add`: the id of the message that was not stored. */
  readonly messageId?: string;

  constructor(code: ErrorCode | ClientErrorCode, message: string, details: { retryAfterMs?: number; messageId?: string } = {}) {
    super(message);
    this.code = code;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.messageId !== undefined) this.messageId = details.messageId;
  }

  /** Wraps the `error` of a refused ack or `connect_error`. */
  static fromBody(body: ErrorBody, messageId?: string): ScrollbackError {
    return new ScrollbackError(body.code, body.message, { retryAfterMs: body.retryAfterMs, messageId });
  }

  /** Whether sending the same request again, unchanged, can succeed. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code as ErrorCode);
  }
}

/** The error of every call made on, or waiting when, the client closes. */
export function closedError(): ScrollbackError {
  return new ScrollbackError("CLOSED", "the client was closed");
}
