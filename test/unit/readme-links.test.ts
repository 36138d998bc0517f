import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");

// Links into the repository: relative targets, anchors dropped.
const targets = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
  .map((match) => match[1]!)
  .filter((target) => !/^[a-z]+:/i.test(target));

describe("README links", () => {
  it("has a map of the contract's behaviours to their files", () => {
    expect(readme).toContain("## Where each behaviour lives");
    expect(targets.length).toBeGreaterThan(20);
  });

  it.each([...new Set(targets)])("%s exists in the repository", (target) => {
    expect(existsSync(new URL(target, root))).toBe(true);
  });
});
