/**
 * The demo widget at `/` in a real Chromium (PROTOCOL.md §6, issue 3): two
 * tabs of one user on two replicas see each other's messages within a
 * second; a reload shows the kept history; a message typed offline, or sent
 * into a replica that froze and died, is stored exactly once; another user
 * sees none of it. Replicas are real servers sharing a real Redis.
 */
import { rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { USER_ID_PATTERN } from "@scrollback/client/protocol";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { freePort } from "../../dev/free-port.js";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { signToken, TEST_SECRET } from "../support/clients.js";
import { spawnServer, startReplicas, startServer, type TestServer } from "../support/servers.js";
import { seriousViolations, settled } from "./axe.js";
import { launchChromium } from "./chromium.js";

const SERVICE_TOKEN = "browser-test-service-token";
const SCREENSHOTS = new URL("./__screenshots__/", import.meta.url);

let redis: RedisServer;
let env: Record<string, string>;
let a: TestServer;
let b: TestServer;
let browser: Browser;
const pageErrors: string[] = [];
/** A second user's page, open through every test. */
let stranger: Page;

beforeAll(async () => {
  redis = await startRedis();
  env = { STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN };
  let replicas: TestServer[];
  [replicas, browser] = await Promise.all([startReplicas(2, env), launchChromium()]);
  [a, b] = replicas as [TestServer, TestServer];
  stranger = await openWidget(await browser.newContext(), a.url, "stranger_user");
  await stranger.evaluate(() => {
    // Counts every message node that ever appears, not only those left at the end.
    const counter = window as unknown as { seenMessages: number };
    counter.seenMessages = 0;
    new MutationObserver((records) => {
      for (const record of records)
        for (const node of record.addedNodes) if ((node as Element).matches?.("[data-testid=message]")) counter.seenMessages++;
    }).observe(document.querySelector("scrollback-chat")!.shadowRoot!.querySelector(".messages")!, { childList: true });
  });
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([a?.close(), b?.close()]);
  await redis?.stop();
});

/** A fresh browser profile, closed when the current test ends (passed or not). */
async function newContext(options: Parameters<Browser["newContext"]>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  onTestFinished(() => context.close());
  return context;
}

/** Opens the widget from `pageUrl` as `userId` (dev mode) and waits until it is online. */
async function openWidget(context: BrowserContext, pageUrl: string, userId: string, servers: string[] = []): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${userId}: ${error.message}`));
  page.on("console", (entry) => {
    // A CSP violation (the page enforces Trusted Types) is reported on the console only.
    if (entry.type() === "error" && /Content Security Policy|TrustedHTML|TrustedScript/i.test(entry.text()))
      pageErrors.push(`${userId}: ${entry.text()}`);
  });
  const query = new URLSearchParams({ user: userId });
  for (const server of servers) query.append("server", server);
  await page.goto(`${pageUrl}/?${query}`);
  await waitOnline(page);
  return page;
}

const waitOnline = (page: Page) => page.locator('[data-testid=status][data-status="online"]').waitFor({ timeout: 15_000 });

/** Types `text` into the composer and clicks send. */
async function send(page: Page, text: string): Promise<void> {
  await page.locator("[data-testid=composer]").fill(text);
  await page.locator("[data-testid=send]").click();
}

/** The texts of the shown messages, in page order. */
const shown = (page: Page) => page.locator("[data-testid=message] .bubble").allTextContents();
const message = (page: Page, text: string) => page.locator("[data-testid=message]", { hasText: text });

/** Records, in the page, when each message was submitted and when each message node appeared (ms since the epoch). */
async function timeArrivals(page: Page): Promise<void> {
  await page.evaluate(() => {
    const times: { submitted: Record<string, number>; arrived: Record<string, number> } = { submitted: {}, arrived: {} };
    (window as unknown as { times: typeof times }).times = times;
    const composer = document.querySelector("scrollback-chat")!.shadowRoot!.querySelector<HTMLTextAreaElement>("[data-testid=composer]")!;
    composer.form!.addEventListener("submit", () => (times.submitted[composer.value.trim()] ??= Date.now()), { capture: true });
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          const text = (node as Element).matches?.("[data-testid=message]")
            ? (node as Element).querySelector(".bubble")?.textContent
            : undefined;
          if (text) times.arrived[text] ??= Date.now();
        }
      }
    }).observe(document.querySelector("scrollback-chat")!.shadowRoot!.querySelector(".messages")!, { childList: true });
  });
}
const recorded = (page: Page, kind: "submitted" | "arrived", text: string) =>
  page.evaluate(([kind, text]) => (window as unknown as { times: Record<string, Record<string, number>> }).times[kind]![text]!, [
    kind,
    text,
  ] as const);
const submitTime = (page: Page, text: string) => recorded(page, "submitted", text);
const arrivalTime = (page: Page, text: string) => recorded(page, "arrived", text);

/** What the server keeps for `userId`, through the HTTP API. */
async function kept(userId: string): Promise<string[]> {
  const response = await fetch(`${b.url}/api/v1/users/${userId}/messages`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
  return ((await response.json()) as { messages: { content: string }[] }).messages.map((entry) => entry.content);
}

/** Saves `widget-<name>.actual.png` once the page's animations have finished (the committed `widget-<name>.png` is a reviewed copy). */
async function screenshot(page: Page, name: string): Promise<void> {
  const path = new URL(`widget-${name}.actual.png`, SCREENSHOTS);
  rmSync(path, { force: true });
  await settled(page);
  await page.screenshot({ path: path.pathname });
}

async function addAsAssistant(userId: string, content: string): Promise<void> {
  const response = await fetch(`${a.url}/api/v1/users/${userId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ role: "assistant", content }),
  });
  expect(response.status).toBe(201);
}

describe("two tabs of one user on two replicas", () => {
  let context: BrowserContext;
  let onA: Page;
  let onB: Page;

  beforeAll(async () => {
    context = await browser.newContext();
    [onA, onB] = await Promise.all([openWidget(context, a.url, "tabs_user"), openWidget(context, b.url, "tabs_user")]);
  });
  afterAll(() => context.close());

  it("see each other's messages within a second, oldest first", async () => {
    await Promise.all([onA, onB].map(timeArrivals));
    for (const [from, to, text] of [
      [onA, onB, "hello from the tab on replica A"],
      [onB, onA, "and back from the tab on replica B"],
      [onA, onB, "third, to check the order"],
    ] as const) {
      await send(from, text);
      await message(to, text).waitFor();
      // Measured in the browser, from the submit on one tab to the message on the other.
      const latency = (await arrivalTime(to, text)) - (await submitTime(from, text));
      expect(latency).toBeLessThan(1_000);
    }
    const expected = ["hello from the tab on replica A", "and back from the tab on replica B", "third, to check the order"];
    expect(await shown(onA)).toEqual(expected);
    expect(await shown(onB)).toEqual(expected);
    await expect.poll(() => kept("tabs_user")).toEqual(expected);
  });

  it("shows the kept history after a reload, and in a fresh browser", async () => {
    const before = await shown(onB);
    await onB.reload();
    await waitOnline(onB);
    await expect.poll(() => shown(onB)).toEqual(before);

    const fresh = await openWidget(await newContext(), a.url, "tabs_user");
    await expect.poll(() => shown(fresh)).toEqual(before);
  });
});

describe("a hidden tab", () => {
  it("counts in its title the messages that arrived while hidden (the element's scrollback-unread event), and resets when seen", async () => {
    const context = await newContext();
    const hidden = await openWidget(context, a.url, "unread_user");
    const other = await openWidget(context, b.url, "unread_user");
    // As if the visitor switched to another tab: the page reads document.hidden.
    await hidden.evaluate(() => Object.defineProperty(document, "hidden", { configurable: true, get: () => true }));
    await send(other, "while you were away");
    await send(other, "and another one");
    await expect.poll(() => hidden.title()).toBe("(2) scrollback");
    expect(await other.title()).toBe("scrollback");
    await hidden.evaluate(() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await expect.poll(() => hidden.title()).toBe("scrollback");
  });
});

describe("a page taken offline", () => {
  it("keeps a message typed offline and stores it exactly once when back online", async () => {
    const offlineContext = await newContext();
    const watcherContext = await newContext();
    const page = await openWidget(offlineContext, a.url, "offline_user");
    const watcher = await openWidget(watcherContext, b.url, "offline_user");

    await offlineContext.setOffline(true);
    await page.locator('[data-testid=status][data-status="offline"]').waitFor();
    await send(page, "written on the train");
    await message(page, "written on the train").and(page.locator('[data-state="pending"]')).waitFor();
    expect(await page.locator("[data-testid=composer]").inputValue()).toBe("");
    expect(await kept("offline_user")).toEqual([]);
    await screenshot(page, "offline");

    await offlineContext.setOffline(false);
    await message(page, "written on the train").and(page.locator('[data-state="stored"]')).waitFor({ timeout: 15_000 });
    await message(watcher, "written on the train").waitFor();
    expect(await kept("offline_user")).toEqual(["written on the train"]);
    expect(await shown(page)).toEqual(["written on the train"]);
    expect(await shown(watcher)).toEqual(["written on the train"]);
  });
});

describe("the dev-mode sign-in", () => {
  it("refuses a user id outside the pattern, starts the chat with a valid one, and signs out through the user chip", async () => {
    const context = await newContext();
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`sign-in: ${error.message}`));
    await page.goto(`${a.url}/`);
    const input = page.locator("[data-testid=user-id]");
    await input.waitFor();
    expect(await input.getAttribute("pattern")).toBe(USER_ID_PATTERN.source);

    await input.fill("not a valid id!");
    await page.locator("[data-testid=start]").click();
    expect(await input.evaluate((element: HTMLInputElement) => element.validity.patternMismatch)).toBe(true);
    expect(await page.locator(".gate").isVisible()).toBe(true);

    await input.fill("gate.user@example:1");
    await page.locator("[data-testid=start]").click();
    await waitOnline(page);
    expect(await page.locator(".gate").isVisible()).toBe(false);
    expect(await page.locator("[data-testid=user]").textContent()).toContain("gate.user@example:1");
    expect(await page.evaluate(() => localStorage.getItem("scrollback:userId"))).toBe("gate.user@example:1");

    await page.locator("[data-testid=user]").click();
    await page.locator("[data-testid=user-id]").waitFor();
    expect(new URL(page.url()).searchParams.has("user")).toBe(false);
    expect(await page.evaluate(() => localStorage.getItem("scrollback:userId"))).toBeNull();
  });
});

describe("a page closed while offline", () => {
  it("leaves its unsent message in localStorage, and the next page of that user stores it once", async () => {
    const context = await newContext();
    const page = await openWidget(context, a.url, "reload_user");
    await context.setOffline(true);
    await page.locator('[data-testid=status][data-status="offline"]').waitFor();
    await send(page, "typed, then the tab was closed");
    await message(page, "typed, then the tab was closed").and(page.locator('[data-state="pending"]')).waitFor();
    await page.close();

    await context.setOffline(false);
    const next = await context.newPage();
    await next.goto(`${a.url}/`); // the user id is remembered too
    await message(next, "typed, then the tab was closed").and(next.locator('[data-state="stored"]')).waitFor({ timeout: 15_000 });
    expect(await kept("reload_user")).toEqual(["typed, then the tab was closed"]);
    expect(await next.evaluate(() => localStorage.getItem("scrollback:outbox:reload_user"))).toBeNull();
  });
});

describe("a replica that froze (SIGSTOP) and then died (SIGKILL)", () => {
  it("has the widget resend the swallowed message to another replica, stored exactly once", async () => {
    const frozen = await spawnServer(env);
    // The page's site lets it use the doomed replica and replica B (WIDGET_SERVERS).
    const site = await startServer({ ...env, WIDGET_SERVERS: `${frozen.url},${b.url}` });
    onTestFinished(() => site.close());
    try {
      const context = await newContext();
      // The page lists the doomed replica first, so it connects there.
      const page = await openWidget(context, site.url, "frozen_user", [frozen.url, b.url]);
      const twin = await openWidget(context, a.url, "frozen_user");
      expect(await (await fetch(`${frozen.url}/metrics`)).text()).toMatch(/^scrollback_connections 1$/m);

      frozen.process.kill("SIGSTOP");
      await send(page, "sent into a frozen replica");
      await message(page, "sent into a frozen replica").and(page.locator('[data-state="pending"]')).waitFor();
      expect(await kept("frozen_user")).toEqual([]); // the packet left the browser and was never read
      frozen.process.kill("SIGKILL");

      await message(page, "sent into a frozen replica").and(page.locator('[data-state="stored"]')).waitFor({ timeout: 15_000 });
      await message(twin, "sent into a frozen replica").waitFor();
      expect(await kept("frozen_user")).toEqual(["sent into a frozen replica"]);
      expect(await shown(page)).toEqual(["sent into a frozen replica"]);
      expect(await shown(twin)).toEqual(["sent into a frozen replica"]);
    } finally {
      await frozen.stop();
    }
  });
});

describe("a refused send", () => {
  it("shows the error line, gives the text back to the composer and stores nothing", async () => {
    const strict = await startServer({ ...env, MAX_MESSAGE_BYTES: "40" });
    onTestFinished(() => strict.close());
    const page = await openWidget(await newContext(), strict.url, "refused_user");
    const tooLong = "this message is longer than the forty bytes allowed";
    await send(page, tooLong);
    await expect.poll(() => page.locator("[data-testid=error]").textContent()).toContain("TOO_LARGE");
    expect(await page.locator("[data-testid=composer]").inputValue()).toBe(tooLong);
    expect(await page.locator("[data-testid=message]").count()).toBe(0);

    await send(page, "short enough");
    await message(page, "short enough").and(page.locator('[data-state="stored"]')).waitFor();
    expect(await page.locator("[data-testid=error]").isHidden()).toBe(true);
    expect(await kept("refused_user")).toEqual(["short enough"]);
  });
});

describe("a server that verifies tokens (JWT mode)", () => {
  let jwtServer: TestServer;
  beforeAll(async () => {
    jwtServer = await startServer({ ...env, AUTH_JWT_SECRET: TEST_SECRET });
  });
  afterAll(() => jwtServer.close());

  it("takes the token from the URL fragment", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${jwtServer.url}/#token=${await signToken("fragment_user")}`);
    await waitOnline(page);
    expect(await page.locator("[data-testid=user]").textContent()).toContain("fragment_user");
    await send(page, "signed in by the fragment");
    await message(page, "signed in by the fragment").and(page.locator('[data-state="stored"]')).waitFor();
    expect(await kept("fragment_user")).toEqual(["signed in by the fragment"]);
  });

  it("takes the token out of the address bar once read (no history entry, bookmark or Referer keeps it)", async () => {
    const page = await (await newContext()).newPage();
    const token = await signToken("fragment_reader");
    await page.goto(`${jwtServer.url}/#token=${token}`);
    await waitOnline(page);
    expect(page.url()).toBe(`${jwtServer.url}/`);
    expect(await page.evaluate(() => location.hash)).toBe("");
    // Replaced, not pushed: the entry before this page is the blank tab, not the address with the token.
    await page.goBack();
    expect(page.url()).toBe("about:blank");
  });
  it("asks the token endpoint again when the token expires, and stays signed in", async () => {
    const context = await newContext();
    const page = await context.newPage();
    // The operator's token endpoint (same site): the first token ends ~2 s after the
    // page connects (exp 28 s ago, inside the server's 30 s leeway), the next lasts.
    let calls = 0;
    await page.route(
      (url) => url.pathname === "/chat-token",
      async (route) => {
        calls++;
        const expiresAt = calls === 1 ? Math.floor(Date.now() / 1000) - 28 : undefined;
        await route.fulfill({
          contentType: "application/json",
          body: JSON.stringify({ token: await signToken("endpoint_user", expiresAt ? { expiresAt } : {}) }),
        });
      },
    );
    await page.goto(`${jwtServer.url}/?tokenUrl=/chat-token`);
    await waitOnline(page);
    // auth:expired ends the first session; the page asks the endpoint again and reconnects.
    await expect.poll(() => calls, { timeout: 10_000 }).toBe(2);
    await waitOnline(page);
    await send(page, "after the token was refreshed");
    await message(page, "after the token was refreshed").and(page.locator('[data-state="stored"]')).waitFor();
    expect(await kept("endpoint_user")).toEqual(["after the token was refreshed"]);
  });

  it("asks for a token when it has none", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${jwtServer.url}/`);
    await page.getByRole("heading", { name: "Sign-in needed" }).waitFor();
    expect(await page.locator("[data-testid=composer]").isDisabled()).toBe(true);
  });
});

describe("what the widget looks like", () => {
  it("renders a conversation with the user's and the assistant's messages (screenshots)", async () => {
    const user = "team_lead_001";
    const desktop = await openWidget(await newContext({ viewport: { width: 1280, height: 860 } }), a.url, user);
    await send(desktop, "Can you summarise yesterday's standup in three points?");
    await addAsAssistant(
      user,
      "Sure:\n1. The Redis migration shipped; histories now survive restarts.\n2. The chat widget got an outbox, so nothing typed offline is lost.\n3. Load tests start Monday.",
    );
    await send(desktop, "Great, thanks! Remind me about the load tests on Monday.");
    await addAsAssistant(user, "Will do. I'll post a reminder here on Monday morning.");
    await expect.poll(() => shown(desktop)).toHaveLength(4);
    const mobile = await openWidget(await newContext({ viewport: { width: 390, height: 760 }, deviceScaleFactor: 2 }), b.url, user);
    await expect.poll(() => shown(mobile)).toHaveLength(4);

    await desktop.locator("[data-testid=composer]").fill("Also, who is on call this week?");
    await screenshot(desktop, "desktop");
    await screenshot(mobile, "mobile");
  });
});

describe("accessibility of the demo page (axe-core)", () => {
  for (const [name, viewport] of [
    ["desktop", { width: 1280, height: 860 }],
    ["mobile", { width: 390, height: 760 }],
  ] as const) {
    it(`has no serious or critical violation on ${name}: the dev sign-in, then chatting`, async () => {
      const page = await (await newContext({ viewport })).newPage();
      page.on("pageerror", (error) => pageErrors.push(`axe ${name}: ${error.message}`));
      await page.goto(`${a.url}/`);
      await page.locator("[data-testid=user-id]").waitFor();
      expect(await seriousViolations(page)).toEqual([]);

      const user = `axe_demo_${name}`;
      await page.locator("[data-testid=user-id]").fill(user);
      await page.keyboard.press("Enter");
      await waitOnline(page);
      // Signed in here: the composer has the focus, so typing and Enter send.
      await page.keyboard.type("typed right after signing in");
      await page.keyboard.press("Enter");
      await message(page, "typed right after signing in").and(page.locator('[data-state="stored"]')).waitFor();
      await addAsAssistant(user, "An answer, to check the assistant's bubble too.");
      await message(page, "An answer").waitFor();
      expect(await seriousViolations(page)).toEqual([]);
    });
  }
});

describe("whom the page trusts with credentials (issue 10)", () => {
  /** A server outside the page's list that records every request it gets, WebSocket upgrades included. */
  async function startRecorder(): Promise<{ url: string; requests: string[] }> {
    const requests: string[] = [];
    const server = createHttpServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      response.writeHead(404).end();
    });
    server.on("upgrade", (request, socket) => {
      requests.push(`UPGRADE ${request.url}`);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
  }

  let jwtServer: TestServer;
  beforeAll(async () => {
    jwtServer = await startServer({ ...env, AUTH_JWT_SECRET: TEST_SECRET });
  });
  afterAll(() => jwtServer.close());

  it("refuses a ?server= outside WIDGET_SERVERS: an error line, no connection, no token sent, and the token leaves the address bar", async () => {
    const elsewhere = await startRecorder();
    const page = await (await newContext()).newPage();
    page.on("pageerror", (error) => pageErrors.push(`refused server: ${error.message}`));
    const token = await signToken("lured_user");
    await page.goto(`${jwtServer.url}/?server=${encodeURIComponent(elsewhere.url)}#token=${token}`);
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain(elsewhere.url);
    expect(page.url()).not.toContain(token);
    // Long enough for a connection attempt and its first retries.
    await page.waitForTimeout(1_500);
    expect(elsewhere.requests).toEqual([]);
    expect(await page.locator("[data-testid=status]").getAttribute("data-status")).not.toBe("online");
  });

  it("refuses it before asking ?tokenUrl= for a token", async () => {
    const elsewhere = await startRecorder();
    const page = await (await newContext()).newPage();
    let tokenRequests = 0;
    await page.route(
      (url) => url.pathname === "/chat-token",
      async (route) => {
        tokenRequests++;
        await route.fulfill({ contentType: "application/json", body: JSON.stringify({ token: await signToken("lured_user") }) });
      },
    );
    await page.goto(`${jwtServer.url}/?tokenUrl=/chat-token&server=${encodeURIComponent(elsewhere.url)}`);
    await page.locator("[data-testid=error]").waitFor();
    await page.waitForTimeout(1_500);
    expect(tokenRequests).toBe(0);
    expect(elsewhere.requests).toEqual([]);
  });

  it("refuses a ?server= that only looks like its own site, and connects nowhere even without the CSP (issue r2)", async () => {
    const elsewhere = await startRecorder();
    // The CSP would block the connection anyway; without it the page's own check is all that stands.
    const page = await (await newContext({ bypassCSP: true })).newPage();
    page.on("pageerror", (error) => pageErrors.push(`look-alike server: ${error.message}`));
    // The browser reads host `127.0.0.1:<port of a>` (and a path); socket.io-client would read the recorder's host.
    const lookAlike = `${a.url}\\@${new URL(elsewhere.url).host}`;
    await page.goto(`${a.url}/?user=lookalike_user&server=${encodeURIComponent(lookAlike)}`);
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain(lookAlike);
    // Long enough for a connection attempt and its first retries.
    await page.waitForTimeout(1_500);
    expect(elsewhere.requests).toEqual([]);
    expect(await page.locator("[data-testid=status]").getAttribute("data-status")).not.toBe("online");
  });

  it("refuses a ?server= that is more than an origin (user info, path, query, fragment)", async () => {
    const page = await (await newContext()).newPage();
    page.on("pageerror", (error) => pageErrors.push(`more than an origin: ${error.message}`));
    for (const value of [`http://someone@${new URL(a.url).host}`, `${a.url}/socket.io`, `${a.url}/?x=1`, `${a.url}#here`, `${a.url}?`]) {
      await page.goto(`${a.url}/?user=lookalike_user&server=${encodeURIComponent(value)}`);
      await page.locator("[data-testid=error]").waitFor();
      expect(await page.locator("[data-testid=status]").getAttribute("data-status")).not.toBe("online");
    }
  });

  it("sends a CSP whose connect-src is 'self' plus WIDGET_SERVERS, and whose frame-ancestors follows CORS_ORIGINS", async () => {
    const listed = await startServer({ ...env, WIDGET_SERVERS: "https://chat.example, http://127.0.0.1:4000/" });
    onTestFinished(() => listed.close());
    const embeddable = await startServer({ ...env, CORS_ORIGINS: "https://app.example,http://127.0.0.1:1" });
    onTestFinished(() => embeddable.close());
    const directives = async (url: string) => {
      const policy = (await fetch(`${url}/`)).headers.get("content-security-policy") ?? "";
      return Object.fromEntries(
        policy
          .split(";")
          .map((part) => part.trim().split(/\s+/))
          .map(([name, ...values]) => [name, values]),
      );
    };
    const own = await directives(a.url);
    expect(own["connect-src"]).toEqual(["'self'"]);
    expect(own["frame-ancestors"]).toEqual(["'self'"]);
    expect(own["require-trusted-types-for"]).toEqual(["'script'"]);
    expect(own["trusted-types"]).toEqual(["'none'"]);
    const withServers = await directives(listed.url);
    expect(withServers["connect-src"]).toEqual([
      "'self'",
      "https://chat.example",
      "wss://chat.example",
      "http://127.0.0.1:4000",
      "ws://127.0.0.1:4000",
    ]);
    const withOrigins = await directives(embeddable.url);
    expect(withOrigins["frame-ancestors"]).toEqual(["'self'", "https://app.example", "http://127.0.0.1:1"]);
  });

  it("uses a ?server= that WIDGET_SERVERS lists", async () => {
    const site = await startServer({ ...env, WIDGET_SERVERS: b.url });
    onTestFinished(() => site.close());
    const page = await openWidget(await newContext(), site.url, "listed_user", [b.url]);
    await send(page, "through the listed replica");
    await message(page, "through the listed replica").and(page.locator('[data-state="stored"]')).waitFor();
    expect(await (await fetch(`${b.url}/metrics`)).text()).toMatch(/^scrollback_connections [1-9]/m);
  });
});

describe("switching user", () => {
  it("removes the user's persisted outbox, so their unsent message is not sent later", async () => {
    // A listed replica that is not running: the page stays offline, the message pending.
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const site = await startServer({ ...env, WIDGET_SERVERS: nowhere });
    onTestFinished(() => site.close());
    const page = await (await newContext()).newPage();
    page.on("pageerror", (error) => pageErrors.push(`switch user: ${error.message}`));
    await page.goto(`${site.url}/?user=switching_user&server=${encodeURIComponent(nowhere)}`);
    await send(page, "typed by the previous user");
    await message(page, "typed by the previous user").and(page.locator('[data-state="pending"]')).waitFor();
    expect(await page.evaluate(() => localStorage.getItem("scrollback:outbox:switching_user"))).toContain("typed by the previous user");

    await page.locator("[data-testid=user]").click();
    await page.locator("[data-testid=user-id]").waitFor();
    expect(await page.evaluate(() => localStorage.getItem("scrollback:outbox:switching_user"))).toBeNull();

    // Back as the same user, on a replica that answers: nothing comes back from the outbox.
    await page.goto(`${site.url}/?user=switching_user`);
    await waitOnline(page);
    await send(page, "typed after switching back");
    await message(page, "typed after switching back").and(page.locator('[data-state="stored"]')).waitFor();
    expect(await shown(page)).toEqual(["typed after switching back"]);
    expect(await kept("switching_user")).toEqual(["typed after switching back"]);
  });
});

describe("a message whose timestamp does not parse (written by another program)", () => {
  it("is shown without a time, and later messages still render", async () => {
    const writer = redis.client();
    await writer.rpush(
      "temp_memory:foreign_time_user:messages",
      JSON.stringify({ role: "assistant", content: "written yesterday, says the other program", timestamp: "yesterday" }),
      JSON.stringify({ role: "assistant", content: "written on the 45th of Undecember", timestamp: "2024-13-45" }),
    );
    const page = await openWidget(await newContext(), a.url, "foreign_time_user");
    await expect.poll(() => shown(page)).toEqual(["written yesterday, says the other program", "written on the 45th of Undecember"]);
    expect(await page.locator("[data-testid=message] time").allTextContents()).toEqual(["", ""]);

    await send(page, "a live message after them");
    await message(page, "a live message after them").and(page.locator('[data-state="stored"]')).waitFor();
    expect(await message(page, "a live message after them").locator("time").textContent()).toMatch(/\d/);
    expect(await shown(page)).toEqual([
      "written yesterday, says the other program",
      "written on the 45th of Undecember",
      "a live message after them",
    ]);
  });
});

describe("a second user", () => {
  it("saw none of it, and no page had a script error", async () => {
    expect(await stranger.evaluate(() => (window as unknown as { seenMessages: number }).seenMessages)).toBe(0);
    expect(await stranger.locator("[data-testid=message]").count()).toBe(0);
    expect(await kept("stranger_user")).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
