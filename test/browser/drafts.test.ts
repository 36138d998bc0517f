/**
 * The widget shows a streamed reply (issue 12, "the widget shows the growing
 * reply with a typing indicator"), in a real Chromium: a backend streams
 * through the HTTP draft routes, the page shows one bubble growing chunk by
 * chunk with a typing indicator (still under prefers-reduced-motion) and
 * `aria-busy`, then the stored message in that same bubble; a tab opened
 * mid-reply shows the text so far; a discarded draft goes; axe stays clean.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startServer, type TestServer } from "../support/servers.js";
import { seriousViolations, settled } from "./axe.js";
import { launchChromium } from "./chromium.js";

const SERVICE_TOKEN = "drafts-browser-test-token";
/** Saved on every run for review (not compared): the growing reply with its typing indicator. */
const SCREENSHOT = new URL("./__screenshots__/widget-draft.actual.png", import.meta.url);

let server: TestServer;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ STORE: "memory", SERVICE_TOKEN }), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function newContext(options: Parameters<Browser["newContext"]>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  onTestFinished(() => context.close());
  return context;
}

async function openWidget(context: BrowserContext, userId: string): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${userId}: ${error.message}`));
  await page.goto(`${server.url}/?${new URLSearchParams({ user: userId })}`);
  await page.locator('[data-testid=status][data-status="online"]').waitFor({ timeout: 15_000 });
  return page;
}

/** The backend's side: the HTTP API (PROTOCOL.md §5). */
async function api(method: string, path: string, body?: object): Promise<Response> {
  return fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}
async function streamChunk(userId: string, id: string, chunk: string): Promise<void> {
  expect((await api("POST", `/users/${userId}/drafts/${id}`, { chunk })).status).toBe(200);
}

const bubble = (page: Page, id: string) => page.locator(`[data-testid=message][data-id="${id}"]`);

/** Records in the page every text the bubble of message `id` shows, in order (each change once). */
async function recordTexts(page: Page, id: string): Promise<void> {
  await page.evaluate((id) => {
    const texts: string[] = [];
    (window as unknown as { texts: string[] }).texts = texts;
    const list = document.querySelector("scrollback-chat")!.shadowRoot!.querySelector(".messages")!;
    const look = () => {
      const text = list.querySelector(`[data-id="${id}"] .bubble`)?.textContent;
      if (text && text !== texts.at(-1)) texts.push(text);
    };
    new MutationObserver(look).observe(list, { childList: true, subtree: true, characterData: true });
  }, id);
}
const recordedTexts = (page: Page) => page.evaluate(() => (window as unknown as { texts: string[] }).texts);

describe("a reply streamed through the HTTP draft routes", () => {
  it("grows in one bubble with a typing indicator, then the stored message takes that bubble", async () => {
    const user = "widget_draft_user";
    const page = await openWidget(await newContext({ viewport: { width: 1280, height: 860 } }), user);
    await recordTexts(page, "reply-1");
    const chunks = ["Sure: ", "the migration ", "shipped on Friday", "."];

    await streamChunk(user, "reply-1", chunks[0]!);
    const draft = bubble(page, "reply-1");
    await draft.and(page.locator('[data-state="draft"]')).waitFor();
    expect(await draft.getAttribute("aria-busy")).toBe("true");
    expect(await draft.getAttribute("data-role")).toBe("assistant");
    expect(await draft.locator(".typing .dots i").count()).toBe(3);
    expect(await draft.locator(".typing").textContent()).toBe("typing…");
    // Marks the node, to see that the stored message reuses it.
    await draft.evaluate((node) => node.setAttribute("data-marked", "draft node"));

    // A tab opened mid-reply shows the text so far.
    await streamChunk(user, "reply-1", chunks[1]!);
    await expect.poll(() => draft.locator(".bubble").textContent()).toBe(chunks.slice(0, 2).join(""));
    const late = await openWidget(await newContext(), user);
    await expect.poll(() => bubble(late, "reply-1").locator(".bubble").textContent()).toBe(chunks.slice(0, 2).join(""));

    for (const chunk of chunks.slice(2)) await streamChunk(user, "reply-1", chunk);
    await expect.poll(() => draft.locator(".bubble").textContent()).toBe(chunks.join(""));
    await expect.poll(() => bubble(late, "reply-1").locator(".bubble").textContent()).toBe(chunks.join(""));
    expect(await seriousViolations(page)).toEqual([]);
    await settled(page);
    await page.screenshot({ path: SCREENSHOT.pathname });

    const final = "Sure: the migration shipped on Friday. (final)";
    expect((await api("POST", `/users/${user}/messages`, { id: "reply-1", role: "assistant", content: final })).status).toBe(201);
    await draft.and(page.locator('[data-state="stored"]')).waitFor();
    expect(await bubble(page, "reply-1").count()).toBe(1);
    expect(await draft.getAttribute("data-marked")).toBe("draft node");
    expect(await draft.getAttribute("aria-busy")).toBeNull();
    expect(await draft.locator(".typing").count()).toBe(0);
    expect(await draft.locator(".bubble").textContent()).toBe(final);
    // Grown chunk by chunk, in order, then the stored text: nothing else was ever shown in that bubble.
    expect(await recordedTexts(page)).toEqual([...chunks.map((_, index) => chunks.slice(0, index + 1).join("")), final]);
    await bubble(late, "reply-1").and(late.locator('[data-state="stored"]')).waitFor();
    expect(await late.locator("[data-testid=message] .bubble").allTextContents()).toEqual([final]);
    expect(await seriousViolations(page)).toEqual([]);
  });

  it("holds the typing dots still under prefers-reduced-motion, and bounces them otherwise; axe-clean in dark mode too", async () => {
    const user = "widget_motion_user";
    const moving = await openWidget(await newContext(), user);
    const still = await openWidget(await newContext({ reducedMotion: "reduce", colorScheme: "dark" }), user);
    await streamChunk(user, "reply-2", "Thinking");
    const animationOf = (page: Page) =>
      bubble(page, "reply-2")
        .locator(".typing .dots i")
        .first()
        .evaluate((dot) => getComputedStyle(dot).animationName);
    await bubble(moving, "reply-2").waitFor();
    await bubble(still, "reply-2").waitFor();
    expect(await animationOf(moving)).toBe("typing");
    expect(await animationOf(still)).toBe("none");
    expect(await seriousViolations(still)).toEqual([]);
  });

  it("removes a discarded draft's bubble", async () => {
    const user = "widget_discard_user";
    const page = await openWidget(await newContext(), user);
    await streamChunk(user, "reply-3", "Let me check");
    await bubble(page, "reply-3").waitFor();
    expect((await api("DELETE", `/users/${user}/drafts/reply-3`)).status).toBe(200);
    await bubble(page, "reply-3").waitFor({ state: "detached" });
    expect(await page.locator("[data-testid=message]").count()).toBe(0);
  });

  it("had no script error on any page", () => {
    expect(pageErrors).toEqual([]);
  });
});
