/**
 * The ACL rules the docs give operators are the ones the integration suites
 * run under (dev/redis-acl.ts defines the test Redis's users from them).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assistantAclRule, cliReadOnlyAclRule, directWriterAclRule, sentinelAclRule, serverAclRule } from "../../dev/redis-acl.js";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("docs/PROTOCOL.md §9", () => {
  it("quotes the direct writer's ACL rule verbatim", () => {
    expect(read("docs/PROTOCOL.md")).toContain(`ACL SETUSER scrollback-writer ${directWriterAclRule("PASSWORD")}\n`);
  });
});

describe.each(["README.md", "docs/PROTOCOL.md"])("%s", (path) => {
  const text = read(path);
  it("quotes the replica's ACL rule verbatim", () => {
    expect(text).toContain(`ACL SETUSER scrollback ${serverAclRule("PASSWORD")}\n`);
  });
  it("quotes the Sentinels' ACL rule verbatim", () => {
    expect(text).toContain(`ACL SETUSER scrollback ${sentinelAclRule("PASSWORD")}\n`);
  });
  it("quotes the assistants' ACL rule verbatim", () => {
    expect(text).toContain(`ACL SETUSER scrollback-assistant ${assistantAclRule("PASSWORD")}\n`);
  });
  it("quotes the CLI's read-only ACL rule verbatim", () => {
    expect(text).toContain(`ACL SETUSER scrollback-cli ${cliReadOnlyAclRule("PASSWORD")}\n`);
  });
});
