#!/usr/bin/env node
// An assistant backend in Node: hears users through the inbox stream (ioredis),
// replies through the HTTP API (fetch). The same loop as examples/python/assistant.py.
//
// Usage: SERVICE_TOKEN=... INBOX_STREAM=temp_memory:inbox node examples/node/assistant.mjs
// Settings (environment): SCROLLBACK_URL (http://localhost:3000), REDIS_URL
// (redis://localhost:6379/0), INBOX_STREAM (temp_memory:inbox), INBOX_GROUP
// (assistants), INBOX_CONSUMER (assistant-<pid>), CLAIM_IDLE_MS (60000).
//
// Delivery is at least once (docs/PROTOCOL.md §8): the reply's id is derived
// from the user message's, so replying twice to one message stores one reply,
// and an entry is acknowledged only once its reply is stored.
import { createHash } from "node:crypto";
import { Redis } from "ioredis";

const env = process.env;
const BASE = env.SCROLLBACK_URL ?? "http://localhost:3000";
const TOKEN = env.SERVICE_TOKEN;
const STREAM = env.INBOX_STREAM ?? "temp_memory:inbox";
const GROUP = env.INBOX_GROUP ?? "assistants";
const CONSUMER = env.INBOX_CONSUMER ?? `assistant-${process.pid}`;
const CLAIM_IDLE_MS = Number(env.CLAIM_IDLE_MS ?? 60_000);
if (!TOKEN) throw new Error("set SERVICE_TOKEN");

/** The reply's id, the same on every delivery of one message (46 characters, within the id pattern). */
const replyId = (userId, messageId) => `reply-${createHash("sha1").update(`${userId}\n${messageId}`).digest("hex")}`;

/** A deterministic reply; a real assistant would call its model here. */
function answer(message) {
  const words = message.content.split(/\s+/).filter(Boolean).length;
  return `You wrote ${words} word${words === 1 ? "" : "s"}: ${message.content.slice(0, 200)}`;
}

/** Stores the reply (201 stored, 200 already stored); retries UNAVAILABLE with the same id, throws on anything else. */
async function postReply(userId, message) {
  const body = JSON.stringify({
    id: replyId(userId, message.id),
    role: "assistant",
    content: answer(message),
    meta: { inReplyTo: message.id },
  });
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${BASE}/api/v1/users/${encodeURIComponent(userId)}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body,
    }).catch((error) => ({ ok: false, status: 0, json: async () => ({ error: { code: "UNAVAILABLE", message: String(error) } }) }));
    const answered = await response.json();
    if (response.ok) return answered;
    if (answered.error.code !== "UNAVAILABLE" || attempt === 5)
      throw new Error(`POST reply to ${userId}: ${response.status} ${answered.error.code}`);
    await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
  }
}

/** The fields of an entry as an object. */
const fieldsOf = (list) => Object.fromEntries(list.flatMap((value, i) => (i % 2 === 0 ? [[value, list[i + 1]]] : [])));

/** Replies to one entry, then acknowledges it (never before: a crash in between means a re-delivery). */
async function handle(redis, entryId, list) {
  const fields = fieldsOf(list);
  const stored = await postReply(fields.userId, JSON.parse(fields.message));
  await redis.xack(STREAM, GROUP, entryId);
  console.log(`${stored.duplicate ? "already replied" : "replied"} ${fields.id} ${stored.message.id}`);
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
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => (stopping = true));
// Our own pending entries first (a restart under the same name), then everyone's stale ones.
await handleAll(redis, await redis.xreadgroup("GROUP", GROUP, CONSUMER, "STREAMS", STREAM, "0"));
await claimStale(redis);
let lastClaim = Date.now();
while (!stopping) {
  await handleAll(redis, await redis.xreadgroup("GROUP", GROUP, CONSUMER, "COUNT", 10, "BLOCK", 1000, "STREAMS", STREAM, ">"));
  if (Date.now() - lastClaim > CLAIM_IDLE_MS) {
    await claimStale(redis);
    lastClaim = Date.now();
  }
}
redis.disconnect();
