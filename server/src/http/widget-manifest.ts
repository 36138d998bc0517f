/**
 * The widget assets' content-hashed names, written by `npm run build`
 * (scripts/build.ts) into the built widget directory beside the page, and read
 * by the built server (PROTOCOL.md §6). A hashed name changes whenever its
 * content does, so browsers may keep it for a year without asking again.
 *
 *   manifest.json  { "assets": { "/widget/app.js": "/widget/app.3f2a9c1b.js", … } }
 *
 * Running from the TypeScript sources there is no manifest: every asset is
 * served under its plain name only, bundled on first request.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const MANIFEST_FILE = "manifest.json";

/** An asset's plain path (`/widget/app.js`) to its hashed one (`/widget/app.3f2a9c1b.js`). */
export type AssetNames = ReadonlyMap<string, string>;

/** A plain path with the first 8 hex digits of the content's SHA-256 before its extension. */
export function hashedAssetPath(path: string, body: string | Uint8Array): string {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 8);
  const dot = path.lastIndexOf(".");
  return `${path.slice(0, dot)}.${hash}${path.slice(dot)}`;
}

export function manifestText(names: AssetNames): string {
  return `${JSON.stringify({ assets: Object.fromEntries(names) }, null, 2)}\n`;
}

/**
 * The build's names for `paths`, read from `dir`'s manifest, or undefined when
 * there is none (running from sources). A manifest that lacks one of `paths`
 * (a build older than the asset table) or names a file outside `/widget/`
 * is an error: the server would otherwise serve a page with a missing script.
 */
export function readAssetNames(dir: string, paths: readonly string[]): AssetNames | undefined {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  const { assets } = JSON.parse(readFileSync(file, "utf8")) as { assets?: Record<string, unknown> };
  const names = new Map<string, string>();
  for (const path of paths) {
    const hashed = assets?.[path];
    if (typeof hashed !== "string" || !/^\/widget\/[\w-]+\.[0-9a-f]{8}\.\w+$/.test(hashed)) {
      throw new Error(`${file} has no hashed name for ${path}: run \`npm run build\` again`);
    }
    names.set(path, hashed);
  }
  return names;
}
