/**
 * The server's one error type. Everything thrown inside a handler ends up as
 * an AppError via `toAppError`, so clients only ever see a code of ERROR_CODES.
 */
import { ERROR_CODES, RETRYABLE_CODES, type ErrorBody, type ErrorCode } from "@scrollback/client/protocol";
import type { ZodError } from "zod";

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** Whether sending the same request again can succeed. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }

  /** The wire form of this error. */
  toBody(): ErrorBody {
    return this.retryAfterMs === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, retryAfterMs: this.retryAfterMs };
  }
}

/** An INVALID_PAYLOAD error whose message names the first offending field. */
export function invalidPayload(error: ZodError): AppError {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : "payload";
  return new AppError(ERROR_CODES.INVALID_PAYLOAD, `${field}: ${issue?.message ?? "invalid"}`);
}

/** Maps anything thrown to an AppError; unexpected errors become INTERNAL without leaking details. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError(ERROR_CODES.INTERNAL, "internal error");
}

/** HTTP status of each code (PROTOCOL.md §5). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_PAYLOAD: 400,
  UNAUTHORIZED: 401,
  UNKNOWN_EVENT: 404,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  TOO_MANY_CONNECTIONS: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};
