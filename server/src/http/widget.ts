/**
 * GET /: the demo chat page (PROTOCOL.md §6), and the widget's assets:
 *   /widget/scrollback-chat.js  the `<scrollback-chat>` element and the SDK (global `Scrollback`) in one
 *                               script, for any site to embed (entry widget/scrollback-chat.ts)
 *   /widget/scrollback.js       the SDK's browser bundle alone (global `Scrollback`), usable by any page
 *   /widget/app.js              the demo page's script (entry widget/boot.ts), which configures the element
 *   /widget/app.css             the demo page's own styles (the element's are inside it)
 * ASSETS is the one list of them. Two ways to serve it:
 * - from the TypeScript sources (`npm start`): each asset is bundled with
 *   esbuild on first request (tens of milliseconds) and kept in memory, so
 *   there is no build step and the page always runs the SDK the server runs
 *   with; served with `Cache-Control: no-cache`.
 * - built (`npm run build`, the image): scripts/build.ts bundled each asset
 *   of ASSETS into files with content-hashed names and a manifest beside the
 *   built page (widget-manifest.ts). The page names the hashed files, served
 *   as immutable for a year; the plain names still answer, no-cache, for
 *   pages elsewhere that load `/widget/scrollback.js`. esbuild is never
 *   loaded: it is only imported, lazily, by `bundle` below.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "esbuild";
import type { Response, Router } from "express";
import type { Logger } from "pino";
import { exactRouter } from "./exact-router.js";
import { type AssetNames, readAssetNames } from "./widget-manifest.js";

export interface WidgetOptions {
  /** Dev mode makes the page ask for a userId; otherwise it needs a token. */
  authMode: "dev" | "jwt";
  /** A same-site endpoint the page asks for tokens (`{ token }` or the bare JWT). */
  tokenUrl?: string;
  /** Origins of other scrollback servers the page may connect to (`?server=`); its own is always allowed (WIDGET_SERVERS). */
  servers?: readonly string[];
  /** Origins that may frame the page besides its own (CORS_ORIGINS). */
  embedders?: readonly string[];
  logger?: Logger;
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const WIDGET_DIR = fileURLToPath(new URL("./widget/", import.meta.url));

// One target for both scripts: every browser with class private fields and `??=`.
const BROWSER: BuildOptions = {
  bundle: true,
  write: false,
  minify: true,
  platform: "browser",
  target: "es2022",
  format: "iife",
  conditions: ["@scrollback/source"],
  logLevel: "silent",
};

/** Every widget asset, by its plain path: its Content-Type and how to build it from the sources. */
export const ASSETS: Record<string, { type: string; load: () => Promise<string> }> = {
  "/widget/scrollback-chat.js": {
    type: "text/javascript",
    // The element's stylesheet is bundled as text and adopted by its shadow root.
    load: () => bundle({ entryPoints: [`${WIDGET_DIR}scrollback-chat.ts`], globalName: "Scrollback", loader: { ".css": "text" } }),
  },
  "/widget/scrollback.js": {
    type: "text/javascript",
    load: () =>
      bundle({ stdin: { contents: 'export * from "@scrollback/client";', resolveDir: HERE, loader: "ts" }, globalName: "Scrollback" }),
  },
  "/widget/app.js": { type: "text/javascript", load: () => bundle({ entryPoints: [`${WIDGET_DIR}boot.ts`] }) },
  "/widget/app.css": { type: "text/css", load: () => readFile(`${WIDGET_DIR}app.css`, "utf8") },
};

/** The page's template; `__CONFIG__` becomes the page's settings, and each `"<asset path>"` (double-quoted) the name it is served under. */
const PAGE = "index.html";

const NO_CACHE = { "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff" };
/** A hashed name's content never changes: a browser (or CDN) may keep it a year without asking. */
const IMMUTABLE = { "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff" };

/** One of {@link ASSETS}, built from the sources or read. */
export function loadAsset(path: string): Promise<string> {
  const asset = ASSETS[path];
  return asset ? asset.load() : Promise.reject(new Error(`not a widget asset: ${path}`));
}

/** Loads esbuild only when called: a built server (no esbuild installed) never calls it. */
async function bundle(options: BuildOptions): Promise<string> {
  const { build } = await import("esbuild");
  const result = await build({ ...BROWSER, ...options });
  const [output] = result.outputFiles ?? [];
  if (!output) throw new Error("esbuild wrote no output");
  return output.text;
}

/**
 * The page runs only its own scripts and talks only to its own site and the
 * listed servers (each in its http(s) and ws(s) form): it holds the
 * visitor's token and outbox, which no other server may receive. It may be
 * framed by its own site and the origins CORS_ORIGINS lets in. It enforces
 * Trusted Types with no policy allowed: neither it nor the element parses
 * HTML, so a string reaching an HTML or script sink is a bug, refused.
 */
function contentSecurityPolicy(servers: readonly string[], embedders: readonly string[]): string {
  const webSocketForm = (origin: string) => origin.replace(/^http/, "ws");
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["connect-src 'self'", ...servers.flatMap((origin) => [origin, webSocketForm(origin)])].join(" "),
    ["frame-ancestors 'self'", ...embedders].join(" "),
    "base-uri 'none'",
    "form-action 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; ");
}

/** The page with each asset's plain path replaced by the name it is served under. */
function nameAssets(html: string, names: AssetNames | undefined): string {
  if (!names) return html;
  let named = html;
  for (const [path, hashed] of names) named = named.replaceAll(`"${path}"`, `"${hashed}"`);
  return named;
}

export function createWidgetRouter(options: WidgetOptions): Router {
  const router = exactRouter();
  // The build's hashed names, or undefined when running from the sources.
  const built = readAssetNames(WIDGET_DIR, Object.keys(ASSETS));
  const cache = new Map<string, Promise<string>>();
  const readBuilt = (path: string, names: AssetNames) => readFile(`${WIDGET_DIR}${basename(names.get(path) ?? path)}`, "utf8");
  const load = (path: string): Promise<string> => {
    let pending = cache.get(path);
    if (!pending) {
      if (path === PAGE) pending = readFile(`${WIDGET_DIR}index.html`, "utf8").then((html) => nameAssets(html, built));
      else pending = built ? readBuilt(path, built) : loadAsset(path);
      // A failed build is retried on the next request rather than cached.
      pending.catch(() => cache.delete(path));
      cache.set(path, pending);
    }
    return pending;
  };
  const servers = options.servers ?? [];
  const pageConfig = JSON.stringify({
    authMode: options.authMode,
    servers,
    ...(options.tokenUrl ? { tokenUrl: options.tokenUrl } : {}),
  }).replace(/</g, "\\u003c");
  const policy = contentSecurityPolicy(servers, options.embedders ?? []);

  router.get("/", (_req, res, next) => {
    load(PAGE).then((html) => {
      res.set({ "Content-Security-Policy": policy, ...NO_CACHE });
      res.type("html").send(html.replace("__CONFIG__", pageConfig));
    }, next);
  });
  for (const [path, asset] of Object.entries(ASSETS)) {
    const serve = (headers: Record<string, string>) => (_req: unknown, res: Response) => {
      load(path).then(
        (body) => res.set(headers).type(asset.type).send(body),
        (error: unknown) => {
          options.logger?.error({ err: error, path }, "widget asset failed to build");
          res.status(500).type("text").send("the widget could not be built; see the server log");
        },
      );
    };
    router.get(path, serve(NO_CACHE));
    const hashed = built?.get(path);
    if (hashed) router.get(hashed, serve(IMMUTABLE));
  }
  return router;
}
