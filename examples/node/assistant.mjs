#!/usr/bin/env node
// An assistant backend in Node: hears users through the inbox stream (ioredis),
// streams its replies through the HTTP API (fetch). The same loop as examples/python/assistant.py.
//
// Usage: SERVICE_TOKEN=... INBOX_STREAM=temp_memory:inbox node examples/node/assistant.mjs
// Settings (environment): SCROLLBACK_URL (http://localhost:3000), REDIS_URL
// (redis://localhost:6379/0), INBOX_STREAM (temp_memory:inbox), INBOX_GROUP
// (assistants), INBOX_CONSUMER (assistant-<pid>), CLAIM_IDLE_MS (60000),
// REPLY_WORD_DELAY_MS (40: the pause between two streamed words).
//
// Each reply is streamed word by word as a draft (docs/PROTOCOL.md §4, Drafts:
// POST /api/v1/users/:userId/drafts/:id), so every open tab of the user sees
// it grow, then stored under the same id (POST .../messages), which replaces
// the draft everywhere.
//
// Delivery is at least once (docs/PROTOCOL.md §8): the reply's id is derived
// from the user message's, so replying twice to one message stores one reply,
// and an entry is acknowledged only once its reply is stored. A re-delivered
// entry (the previous consumer died mid-stream) continues the draft left
// behind; one whose reply is already stored answers DRAFT_CLOSED at the first
// chunk, and is just acknowledged.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

const env = process.env;
const BASE = env.SCROLLBACK_URL ?? "http://localhost:3000";
const TOKEN = env.SERVICE_TOKEN;
const STREAM = env.INBOX_STREAM ?? "temp_memory:inbox";
const GROUP = env.INBOX_GROUP ?? "assistants";
const CONSUMER = env.INBOX_CONSUMER ?? `assistant-${process.pid}`;
const CLAIM_IDLE_MS = Number(env.CLAIM_IDLE_MS ?? 60_000);
const WORD_DELAY_MS = Number(env.REPLY_WORD_DELAY_MS ?? 40);
if (!TOKEN) throw new Error("set SERVICE_TOKEN");

/** A refusal of the HTTP API: its status and error code (docs/PROTOCOL.md §5). */
class ApiError extends Error {
  constructor(method, path, status, code) {
    super(`${method} ${path}: ${status} ${code}`);
    this.status = status;
    this.code = code;
  }
}

/**
 * One HTTP API call, answered JSON. Retries UNAVAILABLE and lost connections
 * (5 times, backing off) and RATE_LIMITED (after the time it says); throws
 * ApiError on any other refusal.
 */
async function api(method, path, body) {
  for (let failures = 0; ; ) {
    let response;
    try {
      response = await fetch(BASE + path, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (failures === 5) throw error;
    }
    if (response) {
      // Not scrollback's answer (a proxy's error page): a gateway's is retried.
      const unreadable = { error: { code: [502, 503, 504].includes(response.status) ? "UNAVAILABLE" : `HTTP_${response.status}` } };
      const answered = await response.json().catch(() => unreadable);
      if (response.ok) return answered;
      const { code, retryAfterMs } = answered.error ?? unreadable.error;
      if (code === "RATE_LIMITED") {
        // draft chunks beyond DRAFT_CHUNKS_PER_SECOND: wait as told
        await sleep(retryAfterMs ?? 1000 * Number(response.headers.get("retry-after") ?? 1));
        continue;
      }
      if (code !== "UNAVAILABLE" || failures === 5) throw new ApiError(method, path, response.status, code);
    }
    await sleep(200 * 2 ** failures);
    failures++;
  }
}

const userPath = (userId, ...rest) => `/api/v1/users/${[userId, ...rest].map(encodeURIComponent).join("/")}`;

/** The reply's id, the same on every delivery of one message (46 characters, within the id pattern). */
const replyId = (userId, messageId) => `reply-${createHash("sha1").update(`${userId}\n${messageId}`).digest("hex")}`;

/** A deterministic reply; a real assistant would call its model here. */
function answer(message) {
  const words = message.content.split(/\s+/).filter(Boolean).length;
  // The first 200 characters (code points: a cut never splits a surrogate pair).
  return `You wrote ${words} word${words === 1 ? "" : "s"}: ${Array.from(message.content).slice(0, 200).join("")}`;
}

/** The chunks to stream: each word with the whitespace before it (they join back to `text`; never inside a character). */
const wordsOf = (text) => text.match(/\s*\S+|\s+$/gu) ?? [];

/** The live draft under `draftId` (a previous delivery's, cut short), or undefined. */
async function draftSoFar(userId, draftId) {
  const { drafts } = await api("GET", userPath(userId, "drafts"));
  return drafts.find((draft) => draft.id === draftId);
}

async function discard(userId, draftId) {
  await api("DELETE", userPath(userId, "drafts", draftId)).catch((error) => {
    if (error.code !== "NOT_FOUND") throw error; // already gone
  });
}

/**
 * Streams `text` word by word as the draft `draftId`, continuing where a
 * previous delivery stopped. Resolves false when the reply is already stored
 * (DRAFT_CLOSED): nothing more to do.
 */
async function streamReply(userId, draftId, text) {
  const chunks = wordsOf(text);
  let start = 0;
  const left = await draftSoFar(userId, draftId);
  if (left) {
    let sent = "";
    while (start < chunks.length && sent.length < left.content.length) sent += chunks[start++];
    if (sent !== left.content) {
      // not our text's beginning: start it over
      start = 0;
      await discard(userId, draftId);
    }
  }
  const path = userPath(userId, "drafts", draftId);
  for (let index = start; index < chunks.length; ) {
    let acked;
    try {
      ({ draft: acked } = await api("POST", path, { chunk: chunks[index], role: "assistant" }));
    } catch (error) {
      if (error.code === "DRAFT_CLOSED") return false;
      if (error.code === "TOO_MANY_DRAFTS") return true; // the user has enough drafts growing: store the reply whole
      throw error;
    }
    if (index === start && start > 0 && acked.seq === 1) {
      // the draft went idle since we read it: it holds only this chunk
      await discard(userId, draftId);
      start = index = 0;
      continue;
    }
    index++;
    if (WORD_DELAY_MS && index < chunks.length) await sleep(WORD_DELAY_MS);
  }
  return true;
}

/** The fields of an entry as an object. */
const fieldsOf = (list) => Object.fromEntries(list.flatMap((value, i) => (i % 2 === 0 ? [[value, list[i + 1]]] : [])));

/** Streams the reply to one entry, stores it, then acknowledges the entry (never before: a crash in between means a re-delivery). */
async function handle(redis, entryId, list) {
  const fields = fieldsOf(list);
  const message = JSON.parse(fields.message);
  const [id, text] = [replyId(fields.userId, message.id), answer(message)];
  let duplicate = true;
  if (await streamReply(fields.userId, id, text)) {
    const body = { id, role: "assistant", content: text, meta: { inReplyTo: message.id } };
    ({ duplicate } = await api("POST", userPath(fields.userId, "messages"), body));
  }
  await redis.xack(STREAM, GROUP, entryId);
  console.log(`${duplicate ? "already replied" : "replied"} ${fields.id} ${id}`);
}

/** Takes over entries another consumer read and never acknowledged (it died mid-work), and handles them. */
async function claimStale(redis) {
  let start = "0-0";
  do {
    const [next, claimed] = await redis.xautoclaim(STREAM, GROUP, CONSUMER, CLAIM_IDLE_MS, start, "COUNT", 10);
    for (const [entryId, list] of claimed) if (list) await handle(redis, entryId, list);
    start = next;
  } while (start !== "0-0");
}

/** Handles what one XREADGROUP answered. */
async function handleAll(redis, answer) {
  for (const [, entries] of answer ?? []) for (const [entryId, list] of entries) if (list) await handle(redis, entryId, list);
}

const redis = new Redis(env.REDIS_URL ?? "redis://localhost:6379/0");
try {
  await redis.xgroup("CREATE", STREAM, GROUP, "0", "MKSTREAM"); // "0": the group also gets what arrived before it existed
} catch (error) {
  if (!String(error).includes("BUSYGROUP")) throw error;
}
console.log(`${CONSUMER} listening on ${STREAM} as group ${GROUP}`);
// Asked to stop, it finishes the entry in hand; while it only waits for entries it stops at once (also
// when Redis is gone: ioredis would otherwise keep retrying the blocked read).
let stopping = false;
let waiting = false;
const stop = () => {
  stopping = true;
  if (waiting) redis.disconnect();
};
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, stop);
redis.on("error", (error) => console.error(`redis: ${error.message}`));
/** The next entries for this consumer, or undefined once stopped. */
async function nextEntries() {
  waiting = true;
  try {
    return await redis.xreadgroup("GROUP", GROUP, CONSUMER, "COUNT", 10, "BLOCK", 1000, "STREAMS", STREAM, ">");
  } catch (error) {
    if (stopping) return undefined;
    throw error;
  } finally {
    waiting = false;
  }
}
// Our own pending entries first (a restart under the same name), then everyone's stale ones.
await handleAll(redis, await redis.xreadgroup("GROUP", GROUP, CONSUMER, "STREAMS", STREAM, "0"));
await claimStale(redis);
let lastClaim = Date.now();
while (!stopping) {
  await handleAll(redis, await nextEntries());
  if (!stopping && Date.now() - lastClaim > CLAIM_IDLE_MS) {
    await claimStale(redis);
    lastClaim = Date.now();
  }
}
redis.disconnect();
