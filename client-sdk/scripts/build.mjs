#!/usr/bin/env node
/**
 * Builds @scrollback/client into dist/ (or --out DIR):
 *   index.js / index.cjs (+ protocol/index, protocol/schemas, react)  ESM and CJS, dependencies external
 *   types/**.d.ts, types/**.d.cts                              declarations, by tsc (.d.cts for `require`)
 *   types/browser/iife.d.ts                                    the IIFE bundle's global `Scrollback`
 *   browser/scrollback.iife.js                                 <script> tag: global `Scrollback`, socket.io-client inside
 *   browser/scrollback.esm.js                                  <script type="module">, socket.io-client inside
 * and prints the browser bundle's gzipped sizes, with and without
 * socket.io-client. Fails if zod reaches a browser bundle.
 *
 *   node scripts/build.mjs [--out DIR] [--json]
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : join(root, "dist"));
const src = (path) => join(root, "src", path);

const entryPoints = {
  index: src("index.ts"),
  "protocol/index": src("protocol/index.ts"),
  "protocol/schemas": src("protocol/schemas.ts"),
  react: src("react.ts"),
};
const library = {
  entryPoints,
  bundle: true,
  outdir: out,
  platform: "neutral",
  target: "es2022",
  external: ["socket.io-client", "zod", "react"],
  logLevel: "warning",
};
// Browsers: the SDK with socket.io-client, and no zod (the server validates).
const browser = {
  entryPoints: [src("index.ts")],
  bundle: true,
  write: false,
  metafile: true,
  platform: "browser",
  target: "es2022",
  minify: true,
  logLevel: "warning",
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({ ...library, format: "esm", splitting: true, chunkNames: "chunks/[name]-[hash]" });
await build({ ...library, format: "cjs", outExtension: { ".js": ".cjs" } });

// Declarations from the same sources, with the compiler this repo type-checks with.
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const types = join(out, "types");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", types], { stdio: "inherit" });
// The package is "type": "module", so TypeScript reads every .d.ts as ESM; a
// `require` caller needs CommonJS declarations (.d.cts) whose relative imports
// name the .cjs files; otherwise TypeScript types a `require` of the CJS build
// as an ES module (attw: "Masquerading as ESM").
for (const file of readdirSync(types, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".d.ts"))) {
  const declarations = readFileSync(join(types, file), "utf8");
  writeFileSync(
    join(types, file.replace(/\.d\.ts$/, ".d.cts")),
    declarations.replace(/((?:from|import\()\s*["'](?:\.\.?\/)[^"']*)\.js(["'])/g, "$1.cjs$2"),
  );
}
// A <script src=".../scrollback.iife.js"> defines the global `Scrollback`;
// TypeScript code on such a page gets its type from
// `/// <reference types="@scrollback/client/browser/iife" />`.
mkdirSync(join(types, "browser"), { recursive: true });
writeFileSync(
  join(types, "browser", "iife.d.ts"),
  'import type * as ScrollbackSdk from "../index.js";\n\ndeclare global {\n  var Scrollback: typeof ScrollbackSdk;\n}\n\nexport {};\n',
);
// npm packs the LICENSE beside package.json; the repository's is the one.
copyFileSync(join(root, "..", "LICENSE"), join(root, "LICENSE"));

const bundles = {
  "scrollback.iife.js": await build({ ...browser, format: "iife", globalName: "Scrollback" }),
  "scrollback.esm.js": await build({ ...browser, format: "esm" }),
};
const ownCode = await build({ ...browser, format: "esm", external: ["socket.io-client"] });
mkdirSync(join(out, "browser"), { recursive: true });
for (const [name, result] of Object.entries(bundles)) {
  const zod = Object.keys(result.metafile.inputs).filter((input) => /node_modules[\\/]zod[\\/]/.test(input));
  if (zod.length > 0) throw new Error(`zod must not reach the browser bundle ${name}: ${zod[0]}`);
  writeFileSync(join(out, "browser", name), result.outputFiles[0].contents);
}

const measure = (result) => {
  const bytes = result.outputFiles[0].contents;
  return { minified: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
};
const sizes = {
  "browser/scrollback.iife.js (with socket.io-client)": measure(bundles["scrollback.iife.js"]),
  "browser/scrollback.esm.js (with socket.io-client)": measure(bundles["scrollback.esm.js"]),
  "the SDK's own code (socket.io-client external)": measure(ownCode),
};
if (args.includes("--json")) {
  process.stdout.write(`${JSON.stringify(sizes)}\n`);
} else {
  process.stdout.write(`@scrollback/client built into ${out}\n`);
  for (const [name, size] of Object.entries(sizes)) {
    process.stdout.write(`  ${name}: ${(size.minified / 1024).toFixed(1)} kB minified, ${(size.gzipped / 1024).toFixed(1)} kB gzipped\n`);
  }
}
