#!/usr/bin/env node
// An assistant backend in Node: hears users through the inbox stream (ioredis),
// streams and stores its replies with the SDK (@scrollback/client), connected
// as each user it answers. The same loop as examples/python/assistant.py,
// which uses the HTTP API instead.
//
// Usage (in this repository, where the SDK is TypeScript source):
//   INBOX_STREAM=temp_memory:inbox node --conditions=@scrollback/source --import tsx examples/node/assistant.mjs
// Elsewhere: npm install @scrollback/client ioredis jose, then plain `node assistant.mjs`.
// Settings (environment): SCROLLBACK_URL (http://localhost:3000), REDIS_URL
// (redis://localhost:6379/0), INBOX_STREAM (temp_memory:inbox), INBOX_GROUP
// (assistants), INBOX_CONSUMER (assistant-<pid>), CLAIM_IDLE_MS (60000),
// REPLY_WORD_DELAY_MS (40: the pause between two streamed words),
// AUTH_JWT_SECRET (the server's; unset: the server is in dev mode),
// AUTH_ISSUER / AUTH_AUDIENCE (the server's, when it checks them),
// CONNECTION_IDLE_MS (60000: a user's connection unused this long is closed),
// MAX_CONNECTIONS (100: connections kept open at once, the least recently used closed first).
// EXAMPLE_DELAY_MS makes it wait between reading an entry and streaming its
// reply, EXAMPLE_ACK_DELAY_MS between storing and acknowledging (tests kill it there).
//
// Acting for a user: a trusted backend holds the server's AUTH_JWT_SECRET,
// so it mints a short-lived token whose `sub` is the user (docs/PROTOCOL.md
// §3) and connects as that user, exactly like one of the user's tabs. In dev
// mode (no secret) it connects with the userId alone. One connection per user
// is kept while in use and closed after CONNECTION_IDLE_MS.
//
// Each reply is streamed word by word as a draft (docs/PROTOCOL.md §4, Drafts:
// `appendDraft`, i.e. draft:append), so every open tab of the user sees it
// grow, then stored under the same id (`add`, i.e. message:add), which
// replaces the draft everywhere. Every event counts against the user's socket
// rate limit (RATE_LIMIT_PER_SECOND): a chunk refused with RATE_LIMITED is
// sent again after its retryAfterMs (`add` does that by itself).
//
// Delivery is at least once (docs/PROTOCOL.md §8): the reply's id is derived
// from the user message's, so replying twice to one message stores one reply,
// and an entry is acknowledged only once its reply is stored. A re-delivered
// entry (the previous consumer died mid-stream) continues the draft left
// behind (the connection's catch-up load carries the user's live drafts); one
// whose reply is already stored is seen in the loaded history, or answers
// DRAFT_CLOSED at the first chunk, and is just acknowledged.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, ScrollbackError } from "@scrollback/client";
import { Redis } from "ioredis";
import { SignJWT } from "jose";

const env = process.env;
const BASE = env.SCROLLBACK_URL ?? "http://localhost:3000";
const STREAM = env.INBOX_STREAM ?? "temp_memory:inbox";
const GROUP = env.INBOX_GROUP ?? "assistants";
const CONSUMER = env.INBOX_CONSUMER ?? `assistant-${process.pid}`;
const CLAIM_IDLE_MS = Number(env.CLAIM_IDLE_MS ?? 60_000);
const WORD_DELAY_MS = Number(env.REPLY_WORD_DELAY_MS ?? 40);
const CONNECTION_IDLE_MS = Number(env.CONNECTION_IDLE_MS ?? 60_000);
const MAX_CONNECTIONS = Number(env.MAX_CONNECTIONS ?? 100);
const DELAY_MS = Number(env.EXAMPLE_DELAY_MS ?? 0);
const ACK_DELAY_MS = Number(env.EXAMPLE_ACK_DELAY_MS ?? 0);
const SECRET = env.AUTH_JWT_SECRET ? new TextEncoder().encode(env.AUTH_JWT_SECRET) : undefined;
/** How long a minted token lives: the server ends a connection at its expiry, and the SDK reconnects with a new one. */
const TOKEN_LIFETIME = "5m";
/** How long a connection may take to come online (caught up) before the entry fails. */
const ONLINE_TIMEOUT_MS = 30_000;

/** A token for `userId`, signed with the server's secret: how a trusted backend acts for a user. */
function mintToken(userId) {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(userId).setIssuedAt().setExpirationTime(TOKEN_LIFETIME);
  if (env.AUTH_ISSUER) jwt.setIssuer(env.AUTH_ISSUER);
  if (env.AUTH_AUDIENCE) jwt.setAudience(env.AUTH_AUDIENCE);
  return jwt.sign(SECRET);
}

/** Open connections by userId, least recently used first (a Map keeps insertion order). */
const connections = new Map();

/** The connection of `userId`, open and caught up: the cached one, or a new one. Hand it back with `release`. */
async function connectionOf(userId) {
  let held = connections.get(userId);
  if (held) {
    connections.delete(userId); // set again below: now the most recently used
    clearTimeout(held.idle);
  } else {
    const credentials = SECRET ? { token: () => mintToken(userId) } : { userId };
    held = { client: connect(BASE, credentials) };
    if (connections.size >= MAX_CONNECTIONS) closeConnection(connections.keys().next().value);
  }
  connections.set(userId, held);
  await whenOnline(held.client);
  return held.client;
}

/** Done with `userId`'s connection for now: it closes unless used again within CONNECTION_IDLE_MS. */
function release(userId) {
  const held = connections.get(userId);
  if (!held) return;
  clearTimeout(held.idle);
  held.idle = setTimeout(() => closeConnection(userId), CONNECTION_IDLE_MS);
  held.idle.unref(); // an idle connection's timer must not keep a stopping process alive
}

function closeConnection(userId) {
  const held = connections.get(userId);
  if (!held) return;
  connections.delete(userId);
  clearTimeout(held.idle);
  held.client.close();
}

/** Resolves once `client` is online (connected, and caught up: its snapshot holds the kept history and the live drafts). */
function whenOnline(client) {
  if (client.status === "online") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`not online within ${ONLINE_TIMEOUT_MS} ms (${client.status})`)), ONLINE_TIMEOUT_MS);
    const stop = client.on("status", (status) => {
      if (status === "online") done();
      if (status === "unauthorized") done(new Error(`${client.userId ?? "?"}: refused (UNAUTHORIZED): check AUTH_JWT_SECRET`));
    });
    function done(error) {
      clearTimeout(timer);
      stop();
      if (error) reject(error);
      else resolve();
    }
  });
}

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

/**
 * Appends one chunk. A RATE_LIMITED refusal (the user's socket rate limit) is
 * waited out as told, UNAVAILABLE backed off, and the chunk sent again, up
 * to 20 times. (An UNAVAILABLE past the store deadline may have applied it:
 * the live draft then shows a word twice, the stored reply is right anyway.)
 */
async function appendChunk(client, draftId, chunk) {
  for (let refusals = 0; ; refusals++) {
    try {
      return await client.appendDraft(draftId, chunk, { role: "assistant" });
    } catch (error) {
      const retryable = error instanceof ScrollbackError && (error.code === "RATE_LIMITED" || error.code === "UNAVAILABLE");
      if (!retryable || refusals === 20) throw error;
      await sleep(error.retryAfterMs ?? 200 * 2 ** Math.min(refusals, 5));
    }
  }
}

/**
 * Streams `text` word by word as the draft `draftId`, continuing where a
 * previous delivery stopped. Resolves false when the reply is already stored
 * (DRAFT_CLOSED): nothing more to do.
 */
async function streamReply(client, draftId, text) {
  const chunks = wordsOf(text);
  let start = 0;
  const left = client.drafts.find((draft) => draft.id === draftId);
  if (left) {
    let sent = "";
    while (start < chunks.length && sent.length < left.content.length) sent += chunks[start++];
    if (sent !== left.content) {
      // not our text's beginning: start it over
      start = 0;
      await client.discardDraft(draftId);
    }
  }
  for (let index = start; index < chunks.length; ) {
    let acked;
    try {
      acked = await appendChunk(client, draftId, chunks[index]);
    } catch (error) {
      if (error.code === "DRAFT_CLOSED") return false;
      if (error.code === "TOO_MANY_DRAFTS") return true; // the user has enough drafts growing: store the reply whole
      throw error;
    }
    if (index === start && start > 0 && acked.seq === 1) {
      // the draft went idle since we read it: it holds only this chunk
      await client.discardDraft(draftId);
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
  if (DELAY_MS) {
    console.log(`read ${fields.id}`);
    await sleep(DELAY_MS);
  }
  const [id, text] = [replyId(fields.userId, message.id), answer(message)];
  const client = await connectionOf(fields.userId);
  let replied;
  try {
    // In the history the connection loaded: stored by an earlier delivery.
    const storedBefore = client.getSnapshot().messages.some((kept) => kept.id === id);
    replied = !storedBefore && (await streamReply(client, id, text));
    // `add` waits out RATE_LIMITED and reconnects by itself, resending under the same id: stored once.
    if (replied) await client.add({ id, role: "assistant", content: text, meta: { inReplyTo: message.id } });
  } finally {
    release(fields.userId);
  }
  if (ACK_DELAY_MS) {
    console.log(`posted ${fields.id}`);
    await sleep(ACK_DELAY_MS);
  }
  await redis.xack(STREAM, GROUP, entryId);
  console.log(`${replied ? "replied" : "already replied"} ${fields.id} ${id}`);
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
console.log(`${CONSUMER} listening on ${STREAM} as group ${GROUP} (${SECRET ? "minting tokens" : "dev mode"})`);
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
for (const userId of [...connections.keys()]) closeConnection(userId);
