/**
 * `npm run build`: the server, the operator CLI and the widget compiled to
 * JavaScript in server/dist/ (ignored by git), which `node` runs with no tsx
 * and no esbuild installed (the image does; PROTOCOL.md §1, §6):
 *
 *   main.js, cli.js (+ .map)        esbuild bundles of server/src/main.ts and
 *                                   server/src/cli/main.ts: our code and the
 *                                   @scrollback/client sources compiled in,
 *                                   every npm package left in node_modules
 *   bin/scrollback                  -> ../cli.js, the CLI for a PATH
 *   lua/*.lua                       the store's scripts (redis-store.ts reads them beside the code)
 *   widget/index.html               the demo page
 *   widget/<name>.<hash>.<ext>      each asset of the widget's ASSETS table, content-hashed
 *   widget/manifest.json            plain path -> hashed path (widget-manifest.ts)
 *
 * server/dist/ sits at the same depth as server/src/, so the paths the
 * sources resolve from `import.meta.url` (../../package.json, ./lua/,
 * ./widget/) hold in the bundles too.
 *
 *   npm run build
 */
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";
import { ASSETS, loadAsset } from "../server/src/http/widget.js";
import { hashedAssetPath, MANIFEST_FILE, manifestText } from "../server/src/http/widget-manifest.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const server = join(root, "server");
const out = join(server, "dist");

/** The server's production dependencies: all a built server may import. */
const serverPackage = JSON.parse(readFileSync(join(server, "package.json"), "utf8")) as { dependencies: Record<string, string> };
const productionPackages = new Set(Object.keys(serverPackage.dependencies));

/**
 * npm packages stay in node_modules (installed with `npm ci --omit=dev`);
 * only the workspace SDK is compiled in, from its sources, so the built
 * server needs neither the SDK's dist/ nor the workspace link.
 */
const packagesExternal: Plugin = {
  name: "packages-external",
  setup(plugin) {
    plugin.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@scrollback/client") ? undefined : { path: args.path, external: true },
    );
  },
};

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** Every package the bundles import when loaded must be a production dependency. */
function checkImports(metafile: Metafile): void {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    for (const { path, kind, external } of output.imports) {
      if (!external || kind !== "import-statement") continue;
      if (path.startsWith("node:") || builtinModules.includes(path)) continue;
      if (!productionPackages.has(packageName(path))) {
        throw new Error(`${file} imports ${path}, which is not a dependency of @scrollback/server: the built server could not load it`);
      }
    }
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const bundles = await build({
  entryPoints: { main: join(server, "src/main.ts"), cli: join(server, "src/cli/main.ts") },
  outdir: out,
  bundle: true,
  platform: "node",
  format: "esm",
  // The oldest Node the code runs on (engines: >=20.19).
  target: "node20.19",
  conditions: ["@scrollback/source"],
  plugins: [packagesExternal],
  sourcemap: true,
  // cli.js is run as bin/scrollback; on main.js the line is harmless.
  banner: { js: "#!/usr/bin/env node" },
  metafile: true,
  logLevel: "warning",
});
checkImports(bundles.metafile);
chmodSync(join(out, "cli.js"), 0o755);
mkdirSync(join(out, "bin"));
symlinkSync("../cli.js", join(out, "bin", "scrollback"));

cpSync(join(server, "src/store/lua"), join(out, "lua"), { recursive: true });

const widget = join(out, "widget");
mkdirSync(widget);
cpSync(join(server, "src/http/widget/index.html"), join(widget, "index.html"));
const names = new Map<string, string>();
const sizes: string[] = [];
for (const path of Object.keys(ASSETS)) {
  const body = await loadAsset(path);
  const hashed = hashedAssetPath(path, body);
  writeFileSync(join(widget, hashed.slice("/widget/".length)), body);
  names.set(path, hashed);
  sizes.push(`  ${hashed} (${(Buffer.byteLength(body) / 1024).toFixed(1)} kB)`);
}
writeFileSync(join(widget, MANIFEST_FILE), manifestText(names));

const files = readdirSync(out, { recursive: true }).length;
process.stdout.write(`built ${files} files into ${out} in ${process.uptime().toFixed(1)} s (Node start included)\n${sizes.join("\n")}\n`);
