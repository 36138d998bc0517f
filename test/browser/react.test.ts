/**
 * `useScrollback` in a real React app in Chromium (issue 11, "Framework
 * use"): test/browser/react-app/app.tsx, bundled by esbuild with react and
 * react-dom (development builds, so React's own checks, such as "the result
 * of getSnapshot should be cached", speak up) and served from a page server
 * on another origin than the scrollback servers. A user types and sends and
 * sees the message; sees it pending while it is in flight (Redis frozen) or
 * while no server answers; sees a refused one failed with its code; sees
 * another client's message. Real servers on a real Redis.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { connect } from "@scrollback/client";
import { build } from "esbuild";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { startServer, type TestServer } from "../support/servers.js";
import { until } from "../support/wait.js";
import { launchChromium } from "./chromium.js";

const APP = fileURLToPath(new URL("./react-app/app.tsx", import.meta.url));

let redis: RedisServer;
let browser: Browser;
let pageServer: Server;
let pageUrl: string;
/** Servers and browser profiles a test started: closed after it. */
let servers: TestServer[] = [];
let contexts: BrowserContext[] = [];
/** Every page error and console error or warning, by page: none is expected. */
const complaints: string[] = [];

beforeAll(async () => {
  const [bundle, started, launched] = await Promise.all([
    build({
      entryPoints: [APP],
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      jsx: "automatic",
      // The SDK's sources, as everywhere in this repository's tests.
      conditions: ["@scrollback/source"],
      define: { "process.env.NODE_ENV": '"development"' },
      logLevel: "warning",
    }),
    startRedis(),
    launchChromium(),
  ]);
  redis = started;
  browser = launched;
  const script = bundle.outputFiles[0]!.text;
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>react chat</title></head><body><div id="root"></div><script type="module" src="/app.js"></script></body></html>';
  pageServer = createHttpServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://page").pathname;
    if (path === "/app.js") response.writeHead(200, { "content-type": "text/javascript" }).end(script);
    else if (path === "/") response.writeHead(200, { "content-type": "text/html" }).end(html);
    else if (path === "/favicon.ico") response.writeHead(204).end();
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
  pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
}, 120_000);

afterEach(async () => {
  await Promise.all(contexts.map((context) => context.close()));
  await Promise.all(servers.map((server) => server.close()));
  [contexts, servers] = [[], []];
  const found = complaints.splice(0);
  expect(found).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => pageServer?.close(resolve));
  await redis?.stop();
});

async function serve(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer({ STORE: "redis", REDIS_URL: redis.url, ...env });
  servers.push(server);
  return server;
}

/** The app in a fresh browser profile, as `user`, connecting to `serverUrl`. */
async function openApp(serverUrl: string, user: string): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => complaints.push(`${user}: ${error.message}`));
  page.on("console", (message) => {
    // Chromium logs each refused WebSocket as a console error: expected while no server answers.
    if (/^WebSocket connection to .* failed/.test(message.text())) return;
    if (message.type() === "error" || message.type() === "warning")
      complaints.push(`${user}: console ${message.type()}: ${message.text()}`);
  });
  await page.goto(`${pageUrl}/?${new URLSearchParams({ server: serverUrl, user })}`);
  return page;
}

const status = (page: Page, value: string) => page.locator(`[data-testid=status][data-status="${value}"]`).waitFor({ timeout: 15_000 });
const shown = (page: Page) => page.locator("[data-testid=message]").allTextContents();
const pending = (page: Page) => page.locator("[data-testid=pending]");

async function send(page: Page, text: string): Promise<void> {
  await page.locator("[data-testid=composer]").fill(text);
  await page.locator("[data-testid=send]").click();
}

describe("useScrollback in Chromium", () => {
  it("renders the kept history, a message typed and sent, and another client's, each once, and stays still when nothing changes", async () => {
    const server = await serve();
    const other = connect(server.url, { userId: "react_chat_user" });
    try {
      await other.add({ content: "already kept" });
      const page = await openApp(server.url, "react_chat_user");
      await status(page, "online");
      await expect.poll(() => shown(page)).toEqual(["already kept"]);

      await send(page, "typed in React");
      await expect.poll(() => shown(page)).toEqual(["already kept", "typed in React"]);
      await expect.poll(() => pending(page).count()).toBe(0);
      expect(await page.locator("[data-testid=composer]").inputValue()).toBe("");

      await other.add({ content: "from another client" });
      await expect.poll(() => shown(page)).toEqual(["already kept", "typed in React", "from another client"]);

      // Nothing changes for a while: no render (a snapshot that changed on every read would loop).
      const renders = () => page.evaluate(() => (window as unknown as { renders: { count: number } }).renders.count);
      const before = await renders();
      await page.waitForTimeout(500);
      expect(await renders()).toBe(before);
    } finally {
      other.close();
    }
  });

  it("shows a message as sending while the server's store hangs, queued with UNAVAILABLE after, then stored", async () => {
    const server = await serve();
    const page = await openApp(server.url, "react_frozen_user");
    await status(page, "online");
    // Each state the pending entry shows, in order, as the page renders it: the
    // test need not look at the right moment (once the server's stall guard
    // refuses at once, "sending" lasts only a round trip between retries).
    await page.evaluate(() => {
      const views: string[] = [];
      (window as unknown as { pendingViews: string[] }).pendingViews = views;
      const record = () => {
        const entry = document.querySelector("[data-testid=pending]");
        const view = entry ? `${entry.querySelector(".content")?.textContent} | ${entry.querySelector(".state")?.textContent}` : "";
        if (view && view !== views.at(-1)) views.push(view);
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const views = () => page.evaluate(() => (window as unknown as { pendingViews: string[] }).pendingViews);
    const unavailable = /^(queued|sending): UNAVAILABLE$/;
    redis.signal("SIGSTOP");
    try {
      await send(page, "sent while Redis hangs");
      await until("the message shows as sending", async () => (await views()).includes("sent while Redis hangs | sending"), 5_000);
      expect(await shown(page)).toEqual([]);
      await until(
        "the message shows as queued with UNAVAILABLE",
        async () => (await views()).some((view) => unavailable.test(view.split(" | ")[1] ?? "")),
        10_000,
      );
      const seen = await views();
      const firstRefused = seen.findIndex((view) => unavailable.test(view.split(" | ")[1] ?? ""));
      // Sending came first, and the entry only ever showed this message.
      expect(seen.slice(0, firstRefused)).toContain("sent while Redis hangs | sending");
      expect(seen.every((view) => view.startsWith("sent while Redis hangs | "))).toBe(true);
      expect(await shown(page)).toEqual([]);
    } finally {
      redis.signal("SIGCONT");
    }
    await expect.poll(() => shown(page), { timeout: 15_000 }).toEqual(["sent while Redis hangs"]);
    await expect.poll(() => pending(page).count()).toBe(0);
  });

  it("shows a message queued while no server answers, and stored once one does", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const page = await openApp(url, "react_offline_user");
    // No server there: the page says so and still takes the message.
    await expect.poll(() => page.locator("[data-testid=status]").getAttribute("data-status")).toMatch(/^(connecting|offline)$/);
    await send(page, "typed with no server");
    await pending(page).and(page.locator('[data-state="queued"]')).waitFor();
    expect(await shown(page)).toEqual([]);

    await serve({ PORT: String(port) });
    await status(page, "online");
    await expect.poll(() => shown(page), { timeout: 15_000 }).toEqual(["typed with no server"]);
    await expect.poll(() => pending(page).count()).toBe(0);
  });

  it("shows a refused message as failed with its code until dismissed", async () => {
    const server = await serve({ MAX_MESSAGE_BYTES: "16" });
    const page = await openApp(server.url, "react_refused_user");
    await status(page, "online");
    await send(page, "far too long for sixteen bytes");
    const failed = pending(page).and(page.locator('[data-state="failed"]'));
    await failed.waitFor();
    expect(await failed.locator(".state").textContent()).toBe("failed: TOO_LARGE");
    await send(page, "fits");
    await expect.poll(() => shown(page)).toEqual(["fits"]);
    await expect.poll(() => failed.count()).toBe(1);
    await failed.getByRole("button", { name: "dismiss" }).click();
    await expect.poll(() => pending(page).count()).toBe(0);
  });
});
