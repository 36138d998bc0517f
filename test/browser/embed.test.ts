/**
 * `<scrollback-chat>` embedded on another site (PROTOCOL.md §6, README "Embed
 * the widget", issue 11), in a real Chromium: a "customer site" on another
 * origin (127.0.0.2) serves a page with the README's snippet under a strict
 * CSP and mints short-lived tokens for its visitors (getToken); two replicas
 * in JWT mode on one real Redis let that origin in (CORS_ORIGINS). Two tabs
 * on two replicas, a token that expires and is refreshed, a reload, an
 * offline send; a page that also enforces Trusted Types; axe-core finds no
 * serious or critical violation; keyboard use; the script's gzip budget.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { signToken, TEST_SECRET } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { seriousViolations, settled } from "./axe.js";
import { launchChromium } from "./chromium.js";

/** The gzipped size `/widget/scrollback-chat.js` must stay under (PROTOCOL.md §6, README): measured 25.2 KiB, plus ~20%; 27.5 KiB since streamed drafts. */
const SCRIPT_BUDGET_GZIP_BYTES = 30 * 1024;
const SERVICE_TOKEN = "embed-test-service-token";
/** Saved on every run; docs/images/widget-embedded.png (in the README) is a reviewed copy, as with widget.test.ts's screenshots. */
const SCREENSHOT = fileURLToPath(new URL("./__screenshots__/widget-embedded.actual.png", import.meta.url));
const DESKTOP = { width: 1280, height: 860 };
const MOBILE = { width: 390, height: 760 };

let redis: RedisServer;
let a: TestServer;
let b: TestServer;
let site: CustomerSite;
let browser: Browser;
const pageErrors: string[] = [];

interface CustomerSite {
  url: string;
  /** Tokens the site's endpoint issued, per user. */
  issued: Map<string, number>;
  /** Users whose first token expires about two seconds after it is issued. */
  shortLived: Set<string>;
  close(): Promise<void>;
}

/**
 * Another company's site: its page embeds the widget with the README's
 * snippet and hands it tokens from its own endpoint (the visitor is named in
 * the address here, where a real site would use its session). Its CSP allows
 * exactly what the README says: the script from the scrollback origin, and
 * connections to the replicas in their http and ws forms.
 */
async function startCustomerSite(): Promise<CustomerSite> {
  const issued = new Map<string, number>();
  const shortLived = new Set<string>();
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://customer.invalid");
    void (async () => {
      if (url.pathname === "/") {
        const first = url.searchParams.get("first");
        const replicas = first === "none" ? [] : first === "b" ? [b.url, a.url] : [a.url, b.url];
        const csp = [
          "default-src 'self'",
          `script-src 'self' ${a.url}`,
          `connect-src 'self' ${[a.url, b.url].flatMap((origin) => [origin, origin.replace(/^http/, "ws")]).join(" ")}`,
          "style-src 'self'",
          "img-src 'self' data:",
          // A site that enforces Trusted Types and allows no policy: no HTML string may reach a DOM sink.
          ...(url.searchParams.get("csp") === "trusted-types" ? ["require-trusted-types-for 'script'", "trusted-types 'none'"] : []),
        ].join("; ");
        response.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": csp });
        response.end(
          customerPage(replicas.join(" "), {
            tokenUrl: url.searchParams.get("mode") === "token-url",
            siteScriptFirst: url.searchParams.get("order") === "site-first",
          }),
        );
      } else if (url.pathname === "/login") {
        // The site's own sign-in: a session cookie its token endpoint reads.
        const user = url.searchParams.get("user") ?? "";
        response.writeHead(302, {
          "set-cookie": `acme_session=${user}; HttpOnly; SameSite=Lax; Path=/`,
          location: "/?mode=token-url&first=none",
        });
        response.end();
      } else if (url.pathname === "/session-token") {
        const user = /(?:^|;\s*)acme_session=([^;]+)/.exec(request.headers.cookie ?? "")?.[1];
        if (!user) {
          response.writeHead(401).end();
          return;
        }
        issued.set(user, (issued.get(user) ?? 0) + 1);
        response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        response.end(JSON.stringify({ token: await signToken(user) }));
      } else if (url.pathname === "/site.js") {
        response.writeHead(200, { "content-type": "text/javascript" });
        response.end(SITE_SCRIPT);
      } else if (url.pathname === "/site.css") {
        response.writeHead(200, { "content-type": "text/css" });
        response.end(SITE_STYLES);
      } else if (url.pathname === "/token") {
        const user = url.searchParams.get("user") ?? "";
        const count = (issued.get(user) ?? 0) + 1;
        issued.set(user, count);
        // exp 28 s ago is inside the server's 30 s leeway: accepted now, expired ~2 s later.
        const expiresAt = shortLived.has(user) && count === 1 ? Math.floor(Date.now() / 1000) - 28 : Math.floor(Date.now() / 1000) + 300;
        response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        response.end(JSON.stringify({ token: await signToken(user, { expiresAt }) }));
      } else {
        response.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.2", resolve));
  return {
    url: `http://127.0.0.2:${(server.address() as AddressInfo).port}`,
    issued,
    shortLived,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The customer's page: its own header and text, and the snippet from the
 * README (no `server` when `servers` is empty: the script's origin).
 */
const customerPage = (servers: string, options: { tokenUrl: boolean; siteScriptFirst: boolean }) => {
  const widgetScript = `<script src="${a.url}/widget/scrollback-chat.js" defer></script>`;
  const siteScript = `<script src="/site.js" defer></script>`;
  const attributes = [servers ? `server="${servers}"` : "", options.tokenUrl ? `token-url="/session-token"` : ""].join(" ");
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Acme support</title>
  <link rel="stylesheet" href="/site.css">
  ${options.siteScriptFirst ? siteScript + widgetScript : widgetScript + siteScript}
</head>
<body>
  <header><h1>Acme support</h1></header>
  <main>
    <p>Ask us anything; your conversation follows you to every tab.</p>
    <scrollback-chat ${attributes}></scrollback-chat>
  </main>
</body>
</html>`;
};

/** The customer's script: the widget asks the site's own endpoint for a token on every (re)connect. */
const SITE_SCRIPT = `
const params = new URLSearchParams(location.search);
const chat = document.querySelector("scrollback-chat");
if (params.has("user")) {
  chat.getToken = async () => {
    const response = await fetch("/token?user=" + encodeURIComponent(params.get("user")), { credentials: "same-origin" });
    if (!response.ok) throw new Error("token endpoint answered " + response.status);
    return (await response.json()).token;
  };
}
`;

/** The customer's look: their font and accent reach into the widget through its custom properties. */
const SITE_STYLES = `
body { margin: 0; font-family: Georgia, serif; background: #f5f1ea; color: #2b2118; }
header { padding: 16px 32px; background: #2b2118; color: #f5f1ea; }
header h1 { margin: 0; font-size: 22px; }
main { max-width: 720px; margin: 0 auto; padding: 16px; }
scrollback-chat {
  height: 560px;
  --scrollback-accent: #8a3b12;
  --scrollback-font: "Helvetica Neue", Arial, sans-serif;
  --scrollback-frame-radius: 14px;
}
`;

beforeAll(async () => {
  site = await startCustomerSite();
  redis = await startRedis();
  const env = { STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN, AUTH_JWT_SECRET: TEST_SECRET, CORS_ORIGINS: site.url };
  let replicas: TestServer[];
  [replicas, browser] = await Promise.all([startReplicas(2, env), launchChromium()]);
  [a, b] = replicas as [TestServer, TestServer];
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([a?.close(), b?.close(), site?.close()]);
  await redis?.stop();
});

async function newContext(options: Parameters<Browser["newContext"]>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  onTestFinished(() => context.close());
  return context;
}

/** Opens the customer's page as `user` (no user: signed out), its widget's first replica `first`. */
async function openCustomerPage(
  context: BrowserContext,
  user: string | undefined,
  first: "a" | "b" = "a",
  extra: Record<string, string> = {},
): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${user}: ${error.message}`));
  page.on("console", (entry) => {
    // A CSP violation is reported on the console only.
    if (entry.type() === "error" && /Content Security Policy/i.test(entry.text())) pageErrors.push(`${user}: ${entry.text()}`);
  });
  const query = new URLSearchParams({ first, ...(user ? { user } : {}), ...extra });
  await page.goto(`${site.url}/?${query}`);
  if (user) await waitOnline(page);
  return page;
}

const waitOnline = (page: Page) => page.locator('[data-testid=status][data-status="online"]').waitFor({ timeout: 15_000 });
const shown = (page: Page) => page.locator("[data-testid=message] .bubble").allTextContents();
const message = (page: Page, text: string) => page.locator("[data-testid=message]", { hasText: text });
const stored = (page: Page, text: string) => message(page, text).and(page.locator('[data-state="stored"]'));

async function send(page: Page, text: string): Promise<void> {
  await page.locator("[data-testid=composer]").fill(text);
  await page.locator("[data-testid=send]").click();
}

async function kept(userId: string): Promise<string[]> {
  const response = await fetch(`${a.url}/api/v1/users/${userId}/messages`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
  return ((await response.json()) as { messages: { content: string }[] }).messages.map((entry) => entry.content);
}

async function addAsAssistant(userId: string, content: string): Promise<void> {
  const response = await fetch(`${b.url}/api/v1/users/${userId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ role: "assistant", content }),
  });
  expect(response.status).toBe(201);
}

/** The replica's count of open Socket.IO connections. */
async function connections(replica: TestServer): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  return Number(/^scrollback_connections (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** The element focused inside shadow roots: its data-testid (or tag). */
const focused = (page: Page) =>
  page.evaluate(() => {
    let active = document.activeElement;
    while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
    return active instanceof HTMLElement ? (active.dataset.testid ?? active.tagName.toLowerCase()) : null;
  });

describe("the embeddable script", () => {
  it(`is one script under its gzip budget (${SCRIPT_BUDGET_GZIP_BYTES} bytes)`, async () => {
    const response = await fetch(`${a.url}/widget/scrollback-chat.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/javascript/);
    const gzipped = gzipSync(Buffer.from(await response.text())).length;
    console.log(`/widget/scrollback-chat.js: ${gzipped} bytes gzipped (budget ${SCRIPT_BUDGET_GZIP_BYTES})`);
    expect(gzipped).toBeLessThan(SCRIPT_BUDGET_GZIP_BYTES);
  });
});

describe("two tabs of one visitor on the customer's page, on two replicas", () => {
  let context: BrowserContext;
  let onA: Page;
  let onB: Page;
  beforeAll(async () => {
    context = await browser.newContext({ viewport: DESKTOP });
    onA = await openCustomerPage(context, "embed_tabs", "a");
    onB = await openCustomerPage(context, "embed_tabs", "b");
  });
  afterAll(() => context.close());

  it("connect to different replicas and see each other's messages, announced in the log", async () => {
    expect(await connections(a)).toBeGreaterThanOrEqual(1);
    expect(await connections(b)).toBeGreaterThanOrEqual(1);
    // The live region is there before the message and stays the same node: screen readers announce additions to it.
    const log = onB.getByRole("log");
    expect(await log.getAttribute("aria-live")).toBe("polite");
    const logNode = await log.elementHandle();

    await send(onA, "hello from the tab on replica A");
    await stored(onA, "hello from the tab on replica A").waitFor();
    await message(onB, "hello from the tab on replica A").waitFor();
    expect(await logNode?.evaluate((node) => node.isConnected && node.querySelector("[data-testid=message]") !== null)).toBe(true);
    expect(await log.locator("[data-testid=message]").count()).toBe(1);

    await send(onB, "and back from the tab on replica B");
    await message(onA, "and back from the tab on replica B").waitFor();
    const expected = ["hello from the tab on replica A", "and back from the tab on replica B"];
    await expect.poll(() => shown(onA)).toEqual(expected);
    await expect.poll(() => shown(onB)).toEqual(expected);
    expect(await kept("embed_tabs")).toEqual(expected);
  });

  it("shows the kept history after a reload", async () => {
    const before = await shown(onB);
    expect(before).toHaveLength(2);
    await onB.reload();
    await waitOnline(onB);
    await expect.poll(() => shown(onB)).toEqual(before);
  });
});

describe("a token that expires", () => {
  it("is replaced by a fresh one from the site's endpoint, and the widget reconnects and sends", async () => {
    site.shortLived.add("embed_expiring");
    const page = await openCustomerPage(await newContext(), "embed_expiring");
    // auth:expired ends the first session; getToken is asked again and the reconnect succeeds.
    await expect.poll(() => site.issued.get("embed_expiring"), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    await waitOnline(page);
    await send(page, "after the token was refreshed");
    await stored(page, "after the token was refreshed").waitFor();
    expect(await kept("embed_expiring")).toEqual(["after the token was refreshed"]);
  });
});

describe("a customer page taken offline", () => {
  it("keeps the message typed offline and stores it exactly once when back online", async () => {
    const context = await newContext();
    const page = await openCustomerPage(context, "embed_offline", "a");
    const watcher = await openCustomerPage(await newContext(), "embed_offline", "b");

    await context.setOffline(true);
    await page.locator('[data-testid=status][data-status="offline"]').waitFor();
    await send(page, "written on the train");
    await message(page, "written on the train").and(page.locator('[data-state="pending"]')).waitFor();
    expect(await kept("embed_offline")).toEqual([]);
    // The pending and offline look must be readable too.
    expect(await seriousViolations(page)).toEqual([]);

    await context.setOffline(false);
    await stored(page, "written on the train").waitFor({ timeout: 15_000 });
    await message(watcher, "written on the train").waitFor();
    expect(await kept("embed_offline")).toEqual(["written on the train"]);
    expect(await shown(page)).toEqual(["written on the train"]);
    expect(await shown(watcher)).toEqual(["written on the train"]);
  });
});

describe("other ways a site configures it", () => {
  it("token-url: asks the site's endpoint with the visitor's cookie; no `server`: uses the origin the script came from", async () => {
    const context = await newContext();
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`token-url: ${error.message}`));
    await page.goto(`${site.url}/login?user=embed_cookie`);
    expect(new URL(page.url()).searchParams.get("mode")).toBe("token-url");
    await waitOnline(page);
    expect(site.issued.get("embed_cookie")).toBe(1);
    expect(await page.locator("[data-testid=user]").textContent()).toContain("embed_cookie");
    await expect.poll(() => connections(a)).toBeGreaterThanOrEqual(1);
    await send(page, "signed in by the site's session");
    await stored(page, "signed in by the site's session").waitFor();
    expect(await kept("embed_cookie")).toEqual(["signed in by the site's session"]);
  });

  it("getToken set before the script defined the element (the site's script runs first)", async () => {
    const page = await openCustomerPage(await newContext(), "embed_early", "a", { order: "site-first" });
    await send(page, "configured before the upgrade");
    await stored(page, "configured before the upgrade").waitFor();
    expect(await kept("embed_early")).toEqual(["configured before the upgrade"]);
  });
});

describe("a customer page that enforces Trusted Types", () => {
  it("shows the widget, which connects, sends and shows a message without a CSP violation", async () => {
    const page = await (await newContext()).newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("console", (entry) => {
      if (entry.type() === "error") problems.push(entry.text());
    });
    // Violations in the shadow root are composed: the document sees them all.
    await page.addInitScript(() => {
      const seen: string[] = [];
      Object.assign(window, { violations: seen });
      document.addEventListener("securitypolicyviolation", (event) => seen.push(`${event.violatedDirective}: ${event.sample}`), true);
    });
    const violations = () => page.evaluate(() => (window as unknown as { violations: string[] }).violations);
    await page.goto(`${site.url}/?${new URLSearchParams({ user: "embed_trusted_types", first: "a", csp: "trusted-types" })}`);
    // The script has run and the element was defined by now (goto waits for the load event).
    expect(await violations()).toEqual([]);
    await waitOnline(page);
    await send(page, "sent from a Trusted Types page");
    await stored(page, "sent from a Trusted Types page").waitFor();
    expect(await shown(page)).toEqual(["sent from a Trusted Types page"]);
    expect(await kept("embed_trusted_types")).toEqual(["sent from a Trusted Types page"]);
    expect(await violations()).toEqual([]);
    expect(problems).toEqual([]);

    // The page really enforces it: an HTML string assigned to a sink is refused (and reported).
    const assigned = await page.evaluate(() => {
      try {
        document.createElement("div").innerHTML = "<b>not trusted</b>";
        return true;
      } catch {
        return false;
      }
    });
    expect(assigned).toBe(false);
    await expect.poll(violations).toEqual(["require-trusted-types-for: Element innerHTML|<b>not trusted</b>"]);
  });
});

describe("the element's life", () => {
  it("moves to the replica a changed `server` names, and closes its connection when removed", async () => {
    const page = await openCustomerPage(await newContext(), "embed_life", "a");
    await expect.poll(() => connections(a)).toBe(1);
    expect(await connections(b)).toBe(0);

    await page.evaluate((server) => document.querySelector("scrollback-chat")?.setAttribute("server", server), b.url);
    await expect.poll(() => connections(b)).toBe(1);
    await expect.poll(() => connections(a)).toBe(0);
    await waitOnline(page);

    await page.evaluate(() => document.querySelector("scrollback-chat")?.remove());
    await expect.poll(() => connections(b)).toBe(0);
    expect(await connections(a)).toBe(0);
  });

  it("shows an error and connects nowhere for a `server` that is not an origin", async () => {
    const page = await openCustomerPage(await newContext(), "embed_life", "a");
    await page.evaluate(() => document.querySelector("scrollback-chat")?.setAttribute("server", "https://chat.example/socket.io"));
    await expect.poll(() => page.locator("[data-testid=error]").textContent()).toContain("https://chat.example/socket.io");
    await expect.poll(() => connections(a)).toBe(0);
  });
});

describe("accessibility (axe-core, keyboard, announcements)", () => {
  for (const [name, viewport, colorScheme] of [
    ["desktop", DESKTOP, "light"],
    ["mobile", MOBILE, "light"],
    ["desktop_dark", DESKTOP, "dark"],
  ] as const) {
    it(`has no serious or critical axe violation on ${name}, signed out and chatting`, async () => {
      const context = await newContext({ viewport, colorScheme });
      const signedOut = await openCustomerPage(context, undefined);
      await signedOut.getByRole("heading", { name: "Sign-in needed" }).waitFor();
      expect(await seriousViolations(signedOut)).toEqual([]);

      const user = `embed_axe_${name}`;
      const chatting = await openCustomerPage(context, user);
      await send(chatting, "Where is my order #1042?");
      await stored(chatting, "Where is my order #1042?").waitFor();
      await addAsAssistant(user, "It left our warehouse this morning; it should reach you on Thursday.");
      await message(chatting, "It left our warehouse").waitFor();
      // The scheme the checks ran in: the widget's own dark or light panel.
      expect(await chatting.locator(".shell").evaluate((shell) => getComputedStyle(shell).backgroundColor)).toBe(
        colorScheme === "dark" ? "rgb(20, 24, 33)" : "rgb(255, 255, 255)",
      );
      expect(await seriousViolations(chatting)).toEqual([]);

      // The demo page at / is the same element: signed out there too (these replicas verify tokens).
      const demo = await context.newPage();
      await demo.goto(`${a.url}/`);
      await demo.getByRole("heading", { name: "Sign-in needed" }).waitFor();
      expect(await seriousViolations(demo)).toEqual([]);
    });
  }

  it("works from the keyboard alone: Tab reaches the composer, focus is visible, Enter sends", async () => {
    const page = await openCustomerPage(await newContext(), "embed_keyboard");
    for (let presses = 0; presses < 10 && (await focused(page)) !== "composer"; presses++) await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("composer");
    // The composer's frame shows the focus ring.
    const ring = await page.locator(".composer").evaluate((form) => getComputedStyle(form).boxShadow);
    expect(ring).not.toBe("none");
    await page.keyboard.type("typed without a mouse");
    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("send");
    const outline = await page
      .locator("[data-testid=send]")
      .evaluate((button) => [button.matches(":focus-visible"), getComputedStyle(button).outlineStyle]);
    expect(outline).toEqual([true, "solid"]);
    await page.keyboard.press("Shift+Tab");
    expect(await focused(page)).toBe("composer");
    await page.keyboard.press("Enter");
    await stored(page, "typed without a mouse").waitFor();
    expect(await page.locator("[data-testid=composer]").inputValue()).toBe("");
    expect(await kept("embed_keyboard")).toEqual(["typed without a mouse"]);
  });

  it("announces the connection status (role=status) and errors (role=alert)", async () => {
    const page = await openCustomerPage(await newContext(), "embed_roles");
    expect(await page.getByRole("status").textContent()).toContain("Online");
    expect(await page.locator("[data-testid=error]").getAttribute("role")).toBe("alert");
  });
});

describe("what the embedded widget looks like", () => {
  it("is saved as widget-embedded.actual.png (docs/images/widget-embedded.png is a reviewed copy)", async () => {
    const user = "embed_screenshot";
    const page = await openCustomerPage(await newContext({ viewport: { width: 1000, height: 780 } }), user);
    await send(page, "Hi! Can I change the delivery address of order #1042?");
    await stored(page, "Hi! Can I change the delivery address").waitFor();
    await addAsAssistant(user, "Yes, until it ships tomorrow at 9:00. What is the new address?");
    await send(page, "12 Harbour Street, Leith. Thanks!");
    await addAsAssistant(user, "Done: order #1042 will go to 12 Harbour Street, Leith.");
    await expect.poll(() => shown(page)).toHaveLength(4);
    await settled(page);
    await page.screenshot({ path: SCREENSHOT });
  });
});

describe("every customer page", () => {
  it("had no script error and no CSP violation", () => {
    expect(pageErrors).toEqual([]);
  });
});
