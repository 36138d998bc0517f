import { readdirSync, readFileSync } from "node:fs";
import { ERROR_CODES, type ErrorCode, isErrorCode } from "@scrollback/client/protocol";
import { describe, expect, expectTypeOf, it } from "vitest";
import { AppError, HTTP_STATUS, RETRY_IS_SAFE, toAppError, toHttpAnswer, unavailable } from "../../server/src/errors.js";

const protocol = readFileSync(new URL("../../docs/PROTOCOL.md", import.meta.url), "utf8");
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The text of PROTOCOL.md's section `## <number>. …`, up to the next section. */
function section(number: number): string {
  const start = protocol.indexOf(`\n## ${number}. `);
  expect(start, `PROTOCOL.md has a section ${number}`).toBeGreaterThan(-1);
  const end = protocol.indexOf("\n## ", start + 1);
  return protocol.slice(start, end === -1 ? undefined : end);
}

/** Table rows of `text` whose first cell is one backticked NAME, as [NAME, the other cells]. */
function codeRows(text: string): [string, string[]][] {
  return text
    .split("\n")
    .filter((line) => /^\| `[A-Z_]+` \|/.test(line))
    .map((line) => {
      const [, first, ...rest] = line.split("|").map((cell) => cell.trim());
      return [first!.slice(1, -1), rest];
    });
}

const ALL_CODES = Object.values(ERROR_CODES);

describe("error codes", () => {
  it.each(ALL_CODES)("%s is documented in the README and PROTOCOL.md", (code) => {
    expect(readme).toContain(`\`${code}\``);
    expect(protocol).toContain(`\`${code}\``);
  });

  it("§4 lists exactly the codes of Socket.IO answers: every code but the HTTP-only NOT_FOUND", () => {
    const listed = codeRows(section(4)).map(([code]) => code);
    expect(listed.sort()).toEqual(ALL_CODES.filter((code) => code !== ERROR_CODES.NOT_FOUND).sort());
    expect(listed.every(isErrorCode)).toBe(true);
    expect(isErrorCode(ERROR_CODES.NOT_FOUND)).toBe(false);
    expectTypeOf<typeof ERROR_CODES.NOT_FOUND>().not.toExtend<ErrorCode>();
  });

  it("§5 lists every code the HTTP API answers with, with the status the server sends", () => {
    const documented = Object.fromEntries(codeRows(section(5)).map(([code, [status]]) => [code, Number(status)]));
    expect(documented).toEqual(HTTP_STATUS);
    for (const code of Object.keys(HTTP_STATUS)) expect(ALL_CODES).toContain(code);
  });

  it("answers a Socket.IO-only code over HTTP as a documented 500 INTERNAL, never a status §5 does not list", () => {
    for (const code of [ERROR_CODES.UNKNOWN_EVENT, ERROR_CODES.TOO_MANY_CONNECTIONS]) {
      expect(toHttpAnswer(new AppError(code, "x"))).toEqual({
        status: 500,
        body: { error: { code: "INTERNAL", message: "internal error" } },
      });
    }
    expect(toHttpAnswer(unavailable("down"))).toEqual({
      status: 503,
      body: { error: { code: "UNAVAILABLE", message: `down; ${RETRY_IS_SAFE}` } },
    });
  });

  it("maps the unexpected to INTERNAL without leaking its message", () => {
    const error = toAppError(new Error("secret connection string redis://u:p@h"));
    expect(error.code).toBe("INTERNAL");
    expect(error.message).not.toContain("secret");
  });

  it("marks only UNAVAILABLE and RATE_LIMITED as retryable", () => {
    const retryable = ALL_CODES.filter((code) => new AppError(code, "x").retryable);
    expect(retryable.sort()).toEqual(["RATE_LIMITED", "UNAVAILABLE"]);
  });

  it("says 'a retry with the same id is safe' in one wording, in every UNAVAILABLE and in the docs", () => {
    expect(unavailable("the store did not answer").message).toBe(`the store did not answer; ${RETRY_IS_SAFE}`);
    for (const text of [section(4), section(5), readme]) expect(text).toContain(RETRY_IS_SAFE);
  });
});

describe("the server writes no error code by hand", () => {
  // The CLI has its own registry (exit codes), and the widget is browser code typed by the SDK.
  const skipped = /^(cli|http\/widget)\//;
  const root = new URL("../../server/src/", import.meta.url);
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((file) => file.endsWith(".ts") && !skipped.test(file));
  const literal = new RegExp(`["'\`](${ALL_CODES.join("|")})["'\`]`);

  it.each(files)("%s builds its errors from ERROR_CODES and the factories of errors.ts", (file) => {
    const source = readFileSync(new URL(file, root), "utf8");
    const line = source.split("\n").find((text) => literal.test(text));
    expect(line).toBeUndefined();
  });
});

describe("README settings table", () => {
  // Every backticked NAME in the first cell of each row of §1's table.
  const rows = section(1)
    .split("\n")
    .filter((line) => /^\| `[A-Z_]+`/.test(line));
  const variables = rows.flatMap((row) => [...row.split("|")[1]!.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1]!));
  it("finds §1's variables", () => expect(variables).toContain("REDIS_WAIT_REPLICAS"));
  it.each(variables)("documents %s", (variable) => {
    expect(readme).toContain(`\`${variable}\``);
  });
});
