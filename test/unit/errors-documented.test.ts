import { readFileSync } from "node:fs";
import { ERROR_CODES } from "@scrollback/client/protocol";
import { describe, expect, it } from "vitest";
import { AppError, HTTP_STATUS, toAppError } from "../../server/src/errors.js";

const protocol = readFileSync(new URL("../../docs/PROTOCOL.md", import.meta.url), "utf8");
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("error codes", () => {
  it.each(Object.values(ERROR_CODES))("%s is documented in the README and PROTOCOL.md and has an HTTP status", (code) => {
    expect(readme).toContain(`\`${code}\``);
    expect(protocol).toContain(`\`${code}\``);
    expect(HTTP_STATUS[code]).toBeGreaterThanOrEqual(400);
  });

  it("maps the unexpected to INTERNAL without leaking its message", () => {
    const error = toAppError(new Error("secret connection string redis://u:p@h"));
    expect(error.code).toBe("INTERNAL");
    expect(error.message).not.toContain("secret");
  });

  it("marks only UNAVAILABLE and RATE_LIMITED as retryable", () => {
    const retryable = Object.values(ERROR_CODES).filter((code) => new AppError(code, "x").retryable);
    expect(retryable.sort()).toEqual(["RATE_LIMITED", "UNAVAILABLE"]);
  });
});

describe("README settings table", () => {
  // Every backticked NAME in the first cell of each row of §1's table.
  const rows = protocol.split("\n").filter((line) => /^\| `[A-Z_]+`/.test(line));
  const variables = rows.flatMap((row) => [...row.split("|")[1]!.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1]!));
  it.each(variables)("documents %s", (variable) => {
    expect(readme).toContain(`\`${variable}\``);
  });
});
