/**
 * No import circles: the server's layers point one way (config ← store ←
 * service ← transports ← app), and so do the SDK's, the bench's and the test
 * helpers'. Type-only imports count too: a circle of types is still two
 * modules that cannot be understood (or moved) one without the other.
 *
 * Specifiers are resolved the way tsconfig does it: `./x.js` is `./x.ts`,
 * and `@scrollback/client/...` is the SDK source its "@scrollback/source" export names.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const ROOTS = ["server/src", "client-sdk/src", "bench", "scripts", "test/support"];
const SDK_PACKAGE = "@scrollback/client";

function sdkExports(): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(ROOT, "client-sdk/package.json"), "utf8")) as {
    exports: Record<string, string | { "@scrollback/source"?: string }>;
  };
  const map = new Map<string, string>();
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    const source = typeof target === "object" ? target["@scrollback/source"] : undefined;
    if (source) {
      map.set(subpath === "." ? SDK_PACKAGE : `${SDK_PACKAGE}${subpath.slice(1)}`, join(ROOT, "client-sdk", source));
    }
  }
  return map;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "dist") return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mts)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The file a specifier names, or undefined for a third-party package. */
function resolveSpecifier(from: string, specifier: string, exportsMap: Map<string, string>): string | undefined {
  if (specifier.startsWith(SDK_PACKAGE)) {
    const target = exportsMap.get(specifier);
    if (!target) throw new Error(`${relative(ROOT, from)}: ${specifier} is not a source export of the SDK`);
    return target;
  }
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.(m?js)$/, ".ts"), base.replace(/\.js$/, ".tsx"), base, `${base}.ts`, join(base, "index.ts")];
  const found = candidates.find((path) => /\.(ts|tsx|mts)$/.test(path) && existsSync(path) && statSync(path).isFile());
  // Non-TypeScript files (Lua, CSS, JSON, bin.js) cannot import back.
  return found;
}

/** Every module reachable from the roots, with the modules it imports (static, type-only and dynamic). */
function importGraph(roots: string[] = ROOTS): Map<string, string[]> {
  const exportsMap = sdkExports();
  const graph = new Map<string, string[]>();
  const pending = roots.flatMap((root) => sourceFiles(join(ROOT, root)));
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (graph.has(file)) continue;
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = importedFiles
      .map((entry) => resolveSpecifier(file, entry.fileName, exportsMap))
      .filter((path): path is string => path !== undefined);
    graph.set(file, [...new Set(targets)]);
    pending.push(...targets.filter((path) => !graph.has(path)));
  }
  return graph;
}

/** The circles in `graph`, each as the path that closes it (first module repeated at the end). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe("import graph", () => {
  it("finds a circle when there is one (the check itself works)", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]],
    ]);
    expect(findCycles(graph)).toEqual([["a", "b", "c", "a"]]);
  });

  it("resolves .js specifiers to the TypeScript sources and the SDK's exports to its src", () => {
    const graph = importGraph(["server/src"]);
    const app = graph.get(join(ROOT, "server/src/app.ts"));
    expect(app).toContain(join(ROOT, "server/src/config.ts"));
    expect([...graph.keys()]).toContain(join(ROOT, "client-sdk/src/protocol/index.ts"));
  });

  it("has no import circle in server/src, client-sdk/src, bench, scripts or test/support", () => {
    const cycles = findCycles(importGraph()).map((cycle) => cycle.map((file) => relative(ROOT, file)).join(" → "));
    expect(cycles, `import circles:\n${cycles.join("\n")}`).toEqual([]);
  });
});
