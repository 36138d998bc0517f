/**
 * The SDK's reference (issue 11, "Docs a newcomer follows"): client-sdk/README.md
 * has, for each entry point of the package, a table of every public export
 * (name, kind, purpose). This test reads the real exports with the
 * TypeScript compiler (values and types alike) and keeps the tables equal to
 * them: an export added, removed or changed in kind without its row fails.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SDK = fileURLToPath(new URL("../../client-sdk/", import.meta.url));
const README = readFileSync(`${SDK}README.md`, "utf8");
const PACKAGE = JSON.parse(readFileSync(`${SDK}package.json`, "utf8")) as {
  name: string;
  exports: Record<string, string | Record<string, unknown>>;
};

/** Each entry point built from a source file: `@scrollback/client/react` → client-sdk/src/react.ts. */
const ENTRIES = Object.entries(PACKAGE.exports).flatMap(([subpath, target]) => {
  const source = typeof target === "object" ? target["@scrollback/source"] : undefined;
  return typeof source === "string" ? [{ name: PACKAGE.name + subpath.slice(1), file: SDK + source.slice(2) }] : [];
});

type Kind = "function" | "class" | "constant" | "interface" | "type";

function kindOf(symbol: ts.Symbol): Kind {
  const flags = symbol.flags;
  if (flags & ts.SymbolFlags.Class) return "class";
  if (flags & ts.SymbolFlags.Function) return "function";
  if (flags & ts.SymbolFlags.Variable) return "constant";
  if (flags & ts.SymbolFlags.Interface) return "interface";
  if (flags & ts.SymbolFlags.TypeAlias) return "type";
  throw new Error(`${symbol.name}: an export of a kind the reference does not know (flags ${flags})`);
}

/** `name → kind` of every export of each entry, as the compiler sees them. */
function actualExports(): Map<string, Map<string, Kind>> {
  const program = ts.createProgram(
    ENTRIES.map((entry) => entry.file),
    {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();
  const result = new Map<string, Map<string, Kind>>();
  for (const entry of ENTRIES) {
    const source = program.getSourceFile(entry.file);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`cannot read ${entry.file}`);
    const exports = new Map<string, Kind>();
    for (const symbol of checker.getExportsOfModule(module)) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      exports.set(symbol.name, kindOf(target));
    }
    result.set(entry.name, exports);
  }
  return result;
}

/** `name → { kind, purpose }` of each "### `entry`" table under "## Reference". */
function documentedExports(): Map<string, Map<string, { kind: string; purpose: string }>> {
  const reference = README.slice(README.indexOf("\n## Reference\n"));
  const result = new Map<string, Map<string, { kind: string; purpose: string }>>();
  let current: Map<string, { kind: string; purpose: string }> | undefined;
  for (const line of reference.split("\n").slice(2)) {
    if (line.startsWith("## ")) break;
    const heading = /^### `([^`]+)`/.exec(line);
    if (heading) {
      current = new Map();
      result.set(heading[1]!, current);
      continue;
    }
    const row = /^\| `([^`]+)` \| ([a-z]+) \| (.*) \|$/.exec(line);
    if (row && current) {
      if (current.has(row[1]!)) throw new Error(`${row[1]} listed twice`);
      current.set(row[1]!, { kind: row[2]!, purpose: row[3]!.trim() });
    }
  }
  return result;
}

describe("client-sdk/README.md's reference", () => {
  const actual = actualExports();
  const documented = documentedExports();

  it("covers every entry point that has sources, and only those", () => {
    expect(ENTRIES.map((entry) => entry.name)).toEqual(
      expect.arrayContaining(["@scrollback/client", "@scrollback/client/protocol", "@scrollback/client/react"]),
    );
    expect([...documented.keys()].sort()).toEqual([...actual.keys()].sort());
  });

  for (const entry of ENTRIES) {
    it(`lists exactly the exports of ${entry.name}, each with its kind and a purpose`, () => {
      const exports = actual.get(entry.name)!;
      const rows = documented.get(entry.name) ?? new Map();
      const missing = [...exports].filter(([name]) => !rows.has(name)).map(([name, kind]) => `| \`${name}\` | ${kind} | |`);
      expect(missing, `rows to add under ### \`${entry.name}\``).toEqual([]);
      expect(
        [...rows.keys()].filter((name) => !exports.has(name)),
        "rows of names not exported",
      ).toEqual([]);
      for (const [name, { kind, purpose }] of rows) {
        expect(kind, name).toBe(exports.get(name));
        expect(purpose.length, `${name}: a purpose`).toBeGreaterThan(10);
      }
    });
  }
});
