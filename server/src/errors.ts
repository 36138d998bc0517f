/**
 * The server's one error type, and the only place that builds one. Every
 * refusal is made by a factory below from a code of ERROR_CODES, and
 * everything thrown inside a handler ends up as an AppError via
 * `toAppError`, so clients only ever see a code of the registry.
 */
import { type AnyErrorCode, ERROR_CODES, type ErrorBody, type HttpErrorCode, RETRYABLE_CODES } from "@scrollback/client/protocol";
import type { ZodError } from "zod";

/**
 * What every UNAVAILABLE says (PROTOCOL.md §4): the write may or may not have
 * landed, and its id makes sending it again harmless.
 */
export const RETRY_IS_SAFE = "retrying with the same id is safe";

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: AnyErrorCode,
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Whether sending the same request again can succeed. */
  get retryable(): boolean {
    return RETRYABLE_CODES.has(this.code);
  }

  /** The wire form of this error. */
  toBody(): ErrorBody<AnyErrorCode> {
    return this.retryAfterMs === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, retryAfterMs: this.retryAfterMs };
  }
}

/**
 * INVALID_PAYLOAD whose message names the field first: given a failed zod
 * parse, its first offending field (`content: …`, `payload: …` for the whole).
 */
export function invalidPayload(problem: ZodError | string): AppError {
  if (typeof problem === "string") return new AppError(ERROR_CODES.INVALID_PAYLOAD, problem);
  const issue = problem.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : "payload";
  return new AppError(ERROR_CODES.INVALID_PAYLOAD, `${field}: ${issue?.message ?? "invalid"}`);
}

/** TOO_LARGE; `message` names what is too large. */
export function tooLarge(message: string): AppError {
  return new AppError(ERROR_CODES.TOO_LARGE, message);
}

/** RATE_LIMITED, with when to try again. */
export function rateLimited(retryAfterMs: number, message = "too many events"): AppError {
  return new AppError(ERROR_CODES.RATE_LIMITED, message, retryAfterMs);
}

/** UNAVAILABLE: `reason`, then the one wording of "a retry is safe". */
export function unavailable(reason: string): AppError {
  return new AppError(ERROR_CODES.UNAVAILABLE, `${reason}; ${RETRY_IS_SAFE}`);
}

/** STORE_FULL: Redis refused the write for lack of memory, and nothing was stored. */
export function storeFull(): AppError {
  return new AppError(ERROR_CODES.STORE_FULL, "the store is out of memory: nothing was stored; a later retry with the same id is safe");
}

/** UNKNOWN_EVENT, naming the event (cut to 64 characters). */
export function unknownEvent(event: string): AppError {
  return new AppError(ERROR_CODES.UNKNOWN_EVENT, `unknown event: ${event.slice(0, 64)}`);
}

/** UNAUTHORIZED: a refused credential. */
export function unauthorized(message: string): AppError {
  return new AppError(ERROR_CODES.UNAUTHORIZED, message);
}

/** DRAFT_CLOSED: the draft's final message is already kept. */
export function draftClosed(id: string): AppError {
  return new AppError(ERROR_CODES.DRAFT_CLOSED, `draft ${id}: its message is already stored; nothing was changed`);
}

/** TOO_MANY_DRAFTS: the user's live drafts are at their bound. */
export function tooManyDrafts(max: number): AppError {
  return new AppError(ERROR_CODES.TOO_MANY_DRAFTS, `at most ${max} live drafts per user; finish or discard one first`);
}

/** NOT_FOUND (HTTP only). */
export function notFound(message: string): AppError {
  return new AppError(ERROR_CODES.NOT_FOUND, message);
}

/** INTERNAL, saying nothing about the cause: `cause` is kept for the server's log, never sent (toBody). */
export function internal(cause?: unknown): AppError {
  return new AppError(ERROR_CODES.INTERNAL, "internal error", undefined, cause === undefined ? undefined : { cause });
}

/** Maps anything thrown to an AppError; unexpected errors become INTERNAL without leaking details. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return internal();
}

/** HTTP status of each code the HTTP API answers with (PROTOCOL.md §5). */
export const HTTP_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  INVALID_PAYLOAD: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  DRAFT_CLOSED: 409,
  TOO_MANY_DRAFTS: 409,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  STORE_FULL: 507,
};

/**
 * The HTTP status and body of `error`. A Socket.IO-only code cannot reach the
 * HTTP API; should one ever do, it is answered as INTERNAL rather than with
 * a status the contract does not list.
 */
export function toHttpAnswer(error: AppError): { status: number; body: { error: ErrorBody<HttpErrorCode> } } {
  const code = isHttpErrorCode(error.code) ? error.code : ERROR_CODES.INTERNAL;
  if (code !== error.code) return { status: HTTP_STATUS[code], body: { error: { code, message: internal().message } } };
  const body = error.toBody() as ErrorBody<HttpErrorCode>;
  return { status: HTTP_STATUS[code], body: { error: body } };
}

function isHttpErrorCode(code: AnyErrorCode): code is HttpErrorCode {
  return Object.hasOwn(HTTP_STATUS, code);
}
