/**
 * How the operator CLI fails: one error type whose code decides the exit
 * status, so scripts can tell "nothing there" from "Redis is down".
 */

/** Exit statuses of `scrollback`, documented in its help and the README. */
export const EXIT_CODES = {
  OK: 0,
  /** Something unexpected went wrong. */
  FAILED: 1,
  /** Bad arguments or settings. */
  USAGE: 2,
  /** The user has no history (`show`). */
  NOT_FOUND: 3,
  /** Redis or a replica did not answer; trying again later may work. */
  UNAVAILABLE: 4,
} as const;

export type CliErrorCode = Exclude<keyof typeof EXIT_CODES, "OK">;

export class CliError extends Error {
  override name = "CliError";
  constructor(
    readonly code: CliErrorCode,
    message: string,
  ) {
    super(message);
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}
