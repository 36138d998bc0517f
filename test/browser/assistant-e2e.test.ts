import { createHash } from "node:crypto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../../dev/redis-server.js";
import { type AssistantProcess, startAssistant } from "../support/assistant-process.js";
import { connect, requestOk } from "../support/clients.js";
import { startReplicas, type TestServer } from "../support/servers.js";
import { until, waitReady } from "../support/wait.js";
import { launchChromium } from "./chromium.js";

const SERVICE_TOKEN = "assistant-e2e-token";
/** A stream of this suite's own, inside the assistant ACL user's key pattern (dev/redis-server.ts TEST_INBOX_STREAMS). */
const STREAM = "temp_memory:inbox-e2e";
const USER = "e2e_assistant_user";
/** Slow enough that a reply takes seconds (the kill lands mid-reply), fast enough for a loaded 2-core machine's timeouts. */
const WORD_DELAY_MS = "150";
/** Generous: Chromium, two replicas and python3 share 2 cores with other suites. */
const LONG = 30_000;

let redis: RedisServer;
let replica1: TestServer;
let replica2: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];
const running = new Set<AssistantProcess>();
const pageErrors: string[] = [];
/** Inspects the stream's pending entries (closed by redis.stop()). */
let reader: ReturnType<RedisServer["client"]> | undefined;

/** Starts examples/python/assistant.py as the README says, talking HTTP to replica 1, and waits until it listens. */
function startPythonAssistant(env: Record<string, string>): Promise<AssistantProcess> {
  return startAssistant("python", {
    env: {
      SCROLLBACK_URL: replica1.url,
      SERVICE_TOKEN,
      // A Redis user of its own that may only read the inbox (dev/redis-acl.ts).
      REDIS_URL: redis.assistantUrl,
      INBOX_STREAM: STREAM,
      ...env,
    },
    running,
    printTimeoutMs: LONG,
  });
}

beforeAll(async () => {
  redis = await startRedis();
  const env = { STORE: "redis", REDIS_URL: redis.url, SERVICE_TOKEN, INBOX_STREAM: STREAM, HISTORY_MAX: "50" };
  let replicas: TestServer[];
  [replicas, browser] = await Promise.all([startReplicas(2, env), launchChromium()]);
  [replica1, replica2] = replicas as [TestServer, TestServer];
  await Promise.all([waitReady(replica1.url), waitReady(replica2.url)]);
});
afterAll(async () => {
  await Promise.all([...running].map((assistant) => assistant.kill()));
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await Promise.all([replica1?.close(), replica2?.close()]);
  // Also fails the suite if Redis refused any scrollback user (the assistant's included) a command.
  await redis?.stop();
});

/** A tab of USER on `replica`'s demo page (dev mode, `?user=`), in a browser context of its own. */
async function openTab(replica: TestServer, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
  await page.goto(`${replica.url}/?${new URLSearchParams({ user: USER })}`);
  await waitOnline(page);
  return page;
}

const waitOnline = (page: Page) => page.locator('[data-testid=status][data-status="online"]').waitFor({ timeout: LONG });
const bubble = (page: Page, id: string) => page.locator(`[data-testid=message][data-id="${id}"]`);
const shown = (page: Page) => page.locator("[data-testid=message] .bubble").allTextContents();

/** The user types `text` into the composer and presses Enter. */
async function type(page: Page, text: string): Promise<void> {
  await page.locator("[data-testid=composer]").click();
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

/** One look at an assistant bubble: which DOM node it was (numbered in order of appearance), its state and text. */
interface Observation {
  node: number;
  state: string;
  text: string;
}

/**
 * Records in the page every look of every assistant bubble, per message id
 * (each change once), so the test sees what the user saw between its polls.
 */
async function recordAssistantBubbles(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: Record<string, { node: number; state: string; text: string }[]> = {};
    const nodes = new WeakMap<Element, number>();
    let created = 0;
    (window as unknown as { seen: typeof seen }).seen = seen;
    const list = document.querySelector("scrollback-chat")!.shadowRoot!.querySelector(".messages")!;
    const look = () => {
      for (const item of list.querySelectorAll<HTMLElement>('[data-testid=message][data-role="assistant"]')) {
        if (!nodes.has(item)) nodes.set(item, created++);
        const observation = {
          node: nodes.get(item)!,
          state: item.dataset.state ?? "",
          text: item.querySelector(".bubble")?.textContent ?? "",
        };
        const id = item.dataset.id!;
        seen[id] ??= [];
        const looks = seen[id];
        const last = looks.at(-1);
        if (!last || last.node !== observation.node || last.state !== observation.state || last.text !== observation.text) {
          looks.push(observation);
        }
      }
    };
    new MutationObserver(look).observe(list, { childList: true, subtree: true, characterData: true, attributes: true });
    look();
  });
}
const observations = (page: Page, id: string): Promise<Observation[]> =>
  page.evaluate((id) => (window as unknown as { seen: Record<string, Observation[]> }).seen[id] ?? [], id);

/** The kept messages of USER, through the HTTP API on replica 2. */
async function kept(): Promise<{ id: string; role: string; content: string; meta?: Record<string, unknown> }[]> {
  const response = await fetch(`${replica2.url}/api/v1/users/${USER}/messages`, {
    headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { messages: { id: string; role: string; content: string }[] }).messages;
}

async function liveDrafts(): Promise<{ id: string; content: string; seq: number }[]> {
  const response = await fetch(`${replica2.url}/api/v1/users/${USER}/drafts`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { drafts: { id: string; content: string; seq: number }[] }).drafts;
}

/** The id the example derives for its reply to `messageId` (examples/python/assistant.py reply_id). */
const replyIdOf = (messageId: string) => `reply-${createHash("sha1").update(`${USER}\n${messageId}`).digest("hex")}`;

/** The id of the stored user message whose content is `content`, once it is kept. */
async function userMessageId(content: string): Promise<string> {
  let id: string | undefined;
  await until(
    `the user's message "${content}" is kept`,
    async () => {
      id = (await kept()).find((message) => message.role === "user" && message.content === content)?.id;
      return id !== undefined;
    },
    LONG,
    50,
  );
  return id!;
}

/** Every look was a draft growing (each a longer beginning of `reply`), then `reply` stored, all in one node. */
function expectGrewThenStored(looks: Observation[], reply: string): void {
  const drafts = looks.filter((look) => look.state === "draft");
  expect(drafts.length, `the draft grew over several observations: ${JSON.stringify(looks)}`).toBeGreaterThanOrEqual(2);
  for (const [index, look] of drafts.entries()) {
    expect(reply.startsWith(look.text), `"${look.text}" begins the reply`).toBe(true);
    if (index > 0) expect(look.text.length).toBeGreaterThan(drafts[index - 1]!.text.length);
  }
  expect(drafts[0]!.text.length).toBeLessThan(reply.length);
  expect(looks.at(-1)).toEqual({ node: looks[0]!.node, state: "stored", text: reply });
  // Replaced in place: the draft's bubble became the stored message, never a second node.
  expect(new Set(looks.map((look) => look.node)).size).toBe(1);
  // Drafts first, then stored, never back.
  const firstStored = looks.findIndex((look) => look.state === "stored");
  expect(looks.slice(0, firstStored).every((look) => look.state === "draft")).toBe(true);
  expect(looks.slice(firstStored).every((look) => look.state === "stored")).toBe(true);
}

describe("a user, the Python assistant and two tabs on two replicas", () => {
  let assistant: AssistantProcess;
  let onReplica1: Page;
  let onReplica2: Page;
  const firstQuestion = "When is the quarterly report due this year?";
  const firstReply = `You wrote 8 words: ${firstQuestion}`;
  let firstId: string;

  beforeAll(async () => {
    assistant = await startPythonAssistant({ REPLY_WORD_DELAY_MS: WORD_DELAY_MS, INBOX_CONSUMER: "e2e-first" });
    [onReplica1, onReplica2] = await Promise.all([openTab(replica1, "replica 1"), openTab(replica2, "replica 2")]);
    await Promise.all([recordAssistantBubbles(onReplica1), recordAssistantBubbles(onReplica2)]);
  });

  it("types on replica 1; the assistant streams its reply; the tab on replica 2 sees the draft grow, then the stored reply in its place", async () => {
    const started = Date.now();
    await type(onReplica1, firstQuestion);
    firstId = await userMessageId(firstQuestion);
    const replyId = replyIdOf(firstId);
    await assistant.printed(new RegExp(`replied ${firstId} ${replyId}`), 60_000);
    console.log(`first reply stored ${Date.now() - started} ms after the user pressed Enter`);

    for (const page of [onReplica2, onReplica1]) {
      await bubble(page, replyId).and(page.locator('[data-state="stored"]')).waitFor({ timeout: LONG });
      expectGrewThenStored(await observations(page, replyId), firstReply);
      expect(await bubble(page, replyId).count()).toBe(1);
      expect(await page.locator('[data-state="draft"]').count()).toBe(0);
      await expect.poll(() => shown(page)).toEqual([firstQuestion, firstReply]);
    }
    const onTwo = await observations(onReplica2, replyId);
    console.log(`replica 2's tab saw ${onTwo.filter((look) => look.state === "draft").length} draft texts before the stored reply`);

    expect(await kept()).toEqual([
      expect.objectContaining({ id: firstId, role: "user", content: firstQuestion }),
      expect.objectContaining({ id: replyId, role: "assistant", content: firstReply, meta: { inReplyTo: firstId } }),
    ]);
    expect(await liveDrafts()).toEqual([]);
  }, 120_000);

  it("shows both the user's message and the reply after a reload of either tab", async () => {
    for (const page of [onReplica2, onReplica1]) {
      await page.reload();
      await waitOnline(page);
      await expect.poll(() => shown(page), { timeout: LONG }).toEqual([firstQuestion, firstReply]);
      expect(await page.locator('[data-testid=message][data-state="stored"]').count()).toBe(2);
      expect(await bubble(page, replyIdOf(firstId)).getAttribute("data-role")).toBe("assistant");
    }
  }, 120_000);

  it("killed mid-reply (SIGKILL) and started again: the draft is continued and exactly one reply is stored and shown", async () => {
    await recordAssistantBubbles(onReplica2);
    const question =
      "Please remind me which documents I still need to send before the audit starts next Monday morning at nine in the main office downstairs";
    const words = question.split(" ").length;
    const reply = `You wrote ${words} words: ${question}`;
    await type(onReplica1, question);
    const id = await userMessageId(question);
    const replyId = replyIdOf(id);

    // Kill once the tab on replica 2 shows the draft grown at least once.
    await expect
      .poll(async () => (await observations(onReplica2, replyId)).filter((look) => look.state === "draft").length, {
        timeout: LONG,
        interval: 20,
      })
      .toBeGreaterThanOrEqual(2);
    await assistant.kill();
    expect(assistant.output()).not.toContain(`replied ${id}`);

    // Mid-reply: part of it is a live draft, nothing is stored, and the tab still shows the draft.
    const left = await liveDrafts();
    expect(left).toEqual([expect.objectContaining({ id: replyId })]);
    expect(left[0]!.content.length).toBeGreaterThan(0);
    expect(left[0]!.content.length).toBeLessThan(reply.length);
    expect(reply.startsWith(left[0]!.content)).toBe(true);
    expect((await kept()).filter((message) => message.role === "assistant").map((message) => message.id)).toEqual([replyIdOf(firstId)]);
    expect(await bubble(onReplica2, replyId).getAttribute("data-state")).toBe("draft");
    console.log(`killed with ${left[0]!.seq} chunks of the reply streamed, "${left[0]!.content}"`);

    // Another process (another consumer name) takes the unacknowledged entry over and continues the draft.
    const again = await startPythonAssistant({ REPLY_WORD_DELAY_MS: "20", CLAIM_IDLE_MS: "200", INBOX_CONSUMER: "e2e-again" });
    await again.printed(new RegExp(`replied ${id} ${replyId}`), 60_000);
    expect(again.output()).not.toContain(`already replied ${id}`);

    await bubble(onReplica2, replyId).and(onReplica2.locator('[data-state="stored"]')).waitFor({ timeout: LONG });
    expectGrewThenStored(await observations(onReplica2, replyId), reply);
    expect(await bubble(onReplica2, replyId).count()).toBe(1);
    expect(await onReplica2.locator('[data-state="draft"]').count()).toBe(0);
    await expect.poll(() => shown(onReplica2)).toEqual([firstQuestion, firstReply, question, reply]);
    await expect.poll(() => shown(onReplica1)).toEqual([firstQuestion, firstReply, question, reply]);

    // Stored once: the HTTP API and a socket's history:load agree; no draft is left.
    const replies = (await kept()).filter((message) => message.role === "assistant");
    expect(replies).toEqual([
      expect.objectContaining({ id: replyIdOf(firstId), content: firstReply }),
      expect.objectContaining({ id: replyId, content: reply, meta: { inReplyTo: id } }),
    ]);
    expect(await liveDrafts()).toEqual([]);
    const socket = await connect(replica1.url, { userId: USER });
    try {
      const loaded = await requestOk(socket, "history:load");
      expect(loaded.messages.map((message) => [message.id, message.content])).toEqual([
        [firstId, firstQuestion],
        [replyIdOf(firstId), firstReply],
        [id, question],
        [replyId, reply],
      ]);
      expect(loaded.drafts).toEqual([]);
    } finally {
      socket.close();
    }

    // A fresh load of the tab shows the reply once, and no draft.
    await onReplica2.reload();
    await waitOnline(onReplica2);
    await expect.poll(() => shown(onReplica2), { timeout: LONG }).toEqual([firstQuestion, firstReply, question, reply]);
    expect(await onReplica2.locator('[data-state="draft"]').count()).toBe(0);
    await until("the entry is acknowledged", async () => (await pendingCount()) === 0, LONG, 50);
  }, 180_000);

  it("had no script error on any tab", () => {
    expect(pageErrors).toEqual([]);
  });
});

async function pendingCount(): Promise<number> {
  reader ??= redis.client();
  return ((await reader.xpending(STREAM, "assistants")) as [number])[0];
}
